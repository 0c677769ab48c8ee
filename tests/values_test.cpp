// values: binding and reading every C++ type, NULLs and optionals, and the misuse errors that name
// the column and both types.
#define BOOST_TEST_MODULE values
#include <boost/test/unit_test.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "support/sqlite_helpers.hpp"

import sqlpool;

namespace {

using sqlpool_test::bytes;
using sqlpool_test::contains;
using sqlpool_test::file_db;
using sqlpool_test::misuse_message;

} // namespace

// ---------------------------------------------------------------------------------------------------
BOOST_FIXTURE_TEST_SUITE(values, file_db)

BOOST_AUTO_TEST_CASE(integers_round_trip_at_their_limits) {
    constexpr auto lo = std::numeric_limits<std::int64_t>::min();
    constexpr auto hi = std::numeric_limits<std::int64_t>::max();
    conn.exec("CREATE TABLE v(i INTEGER)");
    conn.exec("INSERT INTO v VALUES(?), (?), (?), (?)", lo, hi, std::int64_t{0}, std::int64_t{-1});
    std::vector<std::int64_t> read;
    for (auto [i] : conn.query<std::int64_t>("SELECT i FROM v ORDER BY rowid")) read.push_back(i);
    BOOST_TEST((read == std::vector<std::int64_t>{lo, hi, 0, -1}));
    BOOST_TEST(conn.query_value<std::int64_t>("SELECT ?", lo) == lo);
    BOOST_TEST(conn.query_value<std::int64_t>("SELECT ?", hi) == hi);
    BOOST_TEST(conn.query_value<std::string>("SELECT typeof(?)", hi) == "integer");
    // Narrower and unsigned integers bind as INTEGER too.
    BOOST_TEST(conn.query_value<int>("SELECT ?", static_cast<short>(-7)) == -7);
    BOOST_TEST(conn.query_value<std::int64_t>("SELECT ?", std::numeric_limits<std::uint32_t>::max()) ==
               std::int64_t{std::numeric_limits<std::uint32_t>::max()});
    BOOST_TEST(conn.query_value<std::int64_t>("SELECT ?", static_cast<std::uint64_t>(hi)) == hi);
}

BOOST_AUTO_TEST_CASE(unsigned_above_int64_max_is_a_misuse) {
    const auto too_big = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()) + 1u;
    const auto what = misuse_message([&] { (void)conn.query_value<std::int64_t>("SELECT ?", too_big); });
    BOOST_TEST(contains(what, std::to_string(too_big)), what);
}

BOOST_AUTO_TEST_CASE(ints_are_range_checked) {
    constexpr auto int_max = std::numeric_limits<int>::max();
    constexpr auto int_min = std::numeric_limits<int>::min();
    BOOST_TEST(conn.query_value<int>("SELECT ?", int_max) == int_max);
    BOOST_TEST(conn.query_value<int>("SELECT ?", int_min) == int_min);
    BOOST_CHECK_THROW((void)conn.query_value<int>("SELECT ?", std::int64_t{int_max} + 1),
                      sqlpool::misuse_error);
    BOOST_CHECK_THROW((void)conn.query_value<int>("SELECT ?", std::int64_t{int_min} - 1),
                      sqlpool::misuse_error);
    BOOST_TEST(
        contains(misuse_message([&] { (void)conn.query_value<int>("SELECT 4294967296"); }), "4294967296"));
}

BOOST_AUTO_TEST_CASE(doubles_round_trip_and_integers_widen) {
    BOOST_TEST(conn.query_value<double>("SELECT ?", 2.5) == 2.5);
    BOOST_TEST(conn.query_value<double>("SELECT ?", -1e300) == -1e300);
    BOOST_TEST(conn.query_value<double>("SELECT ?", 0.25f) == 0.25);
    BOOST_TEST(conn.query_value<std::string>("SELECT typeof(?)", 1.0) == "real");
    BOOST_TEST(conn.query_value<double>("SELECT 3") == 3.0); // INTEGER widens to double
    BOOST_CHECK_THROW((void)conn.query_value<std::int64_t>("SELECT 2.5"), sqlpool::misuse_error);
    BOOST_CHECK_THROW((void)conn.query_value<double>("SELECT '2.5'"), sqlpool::misuse_error);
}

BOOST_AUTO_TEST_CASE(bools_bind_as_integers) {
    BOOST_TEST(conn.query_value<std::int64_t>("SELECT ?", true) == 1);
    BOOST_TEST(conn.query_value<std::int64_t>("SELECT ?", false) == 0);
    BOOST_TEST(conn.query_value<bool>("SELECT ?", true));
    BOOST_TEST(!conn.query_value<bool>("SELECT 0"));
    BOOST_TEST(conn.query_value<bool>("SELECT 7"));
    BOOST_CHECK_THROW((void)conn.query_value<bool>("SELECT 'true'"), sqlpool::misuse_error);
}

BOOST_AUTO_TEST_CASE(text_round_trips) {
    const std::string with_nul("a\0b", 3);
    const std::string utf8 = "gr\xC3\xBC\xC3\x9F dich \xE2\x9C\x93";
    BOOST_TEST(conn.query_value<std::string>("SELECT ?", with_nul) == with_nul);
    BOOST_TEST(conn.query_value<std::int64_t>("SELECT length(CAST(? AS BLOB))", with_nul) == 3);
    BOOST_TEST(conn.query_value<std::string>("SELECT ?", utf8) == utf8);
    BOOST_TEST(conn.query_value<std::string>("SELECT ?", "literal") == "literal");
    const char* pointer = "pointer";
    BOOST_TEST(conn.query_value<std::string>("SELECT ?", pointer) == "pointer");
    BOOST_TEST(conn.query_value<std::string>("SELECT ?", std::string_view("view-of-more", 4)) == "view");
    BOOST_TEST(conn.query_value<std::string>("SELECT typeof(?)", std::string{}) == "text");
    BOOST_TEST(conn.query_value<std::string>("SELECT ?", std::string{}).empty());
}

// An empty std::string_view must bind as empty TEXT, like an empty std::string and like an empty blob
// binds as an empty BLOB. A default-constructed string_view has data() == nullptr, and
// sqlite3_bind_text64 binds NULL for a null pointer.
BOOST_AUTO_TEST_CASE(an_empty_string_view_binds_empty_text_not_null) {
    BOOST_TEST(conn.query_value<std::string>("SELECT typeof(?)", std::string_view{}) == "text");
    conn.exec("CREATE TABLE t(s TEXT NOT NULL)");
    BOOST_CHECK_NO_THROW(conn.exec("INSERT INTO t VALUES(?)", std::string_view{}));
}

BOOST_AUTO_TEST_CASE(blobs_round_trip_including_empty_ones) {
    const auto blob = bytes({0x00, 0x01, 0x7f, 0x80, 0xff});
    conn.exec("CREATE TABLE b(v BLOB)");
    conn.exec("INSERT INTO b VALUES(?)", blob);
    conn.exec("INSERT INTO b VALUES(?)", std::span<const std::byte>(blob).first(2));
    conn.exec("INSERT INTO b VALUES(?)", std::vector<std::byte>{});
    conn.exec("INSERT INTO b VALUES(?)", std::span<const std::byte>{});
    std::vector<std::vector<std::byte>> read;
    for (auto [v] : conn.query<std::vector<std::byte>>("SELECT v FROM b ORDER BY rowid")) read.push_back(v);
    BOOST_REQUIRE(read.size() == 4u);
    BOOST_TEST((read[0] == blob));
    BOOST_TEST((read[1] == bytes({0x00, 0x01})));
    BOOST_TEST(read[2].empty());
    BOOST_TEST(read[3].empty());
    BOOST_TEST(conn.query_value<std::int64_t>("SELECT count(*) FROM b WHERE typeof(v) = 'blob'") == 4);
    // An empty BLOB is a value, not NULL.
    const auto empty =
        conn.query_value<std::optional<std::vector<std::byte>>>("SELECT v FROM b WHERE rowid = 3");
    BOOST_TEST(empty.has_value());
    const std::array<std::byte, 2> fixed{std::byte{9}, std::byte{8}};
    BOOST_TEST((conn.query_value<std::vector<std::byte>>("SELECT ?", fixed) == bytes({9, 8})));
}

BOOST_AUTO_TEST_CASE(nulls_bind_and_read_as_nullopt) {
    BOOST_TEST(conn.query_value<std::string>("SELECT typeof(?)", nullptr) == "null");
    BOOST_TEST(conn.query_value<std::string>("SELECT typeof(?)", std::nullopt) == "null");
    BOOST_TEST(conn.query_value<std::string>("SELECT typeof(?)", std::optional<int>{}) == "null");
    BOOST_TEST(conn.query_value<std::string>("SELECT typeof(?)", std::optional<std::string>{}) == "null");
    BOOST_TEST(conn.query_value<std::int64_t>("SELECT ?", std::optional<int>{5}) == 5);
    BOOST_TEST(conn.query_value<std::string>("SELECT ?", std::optional<std::string>{"x"}) == "x");
    BOOST_TEST(conn.query_value<std::string>("SELECT typeof(?)", std::optional<std::vector<std::byte>>{
                                                                     std::vector<std::byte>{}}) == "blob");

    const auto row =
        conn.query_one<std::optional<std::int64_t>, std::optional<int>, std::optional<bool>,
                       std::optional<double>, std::optional<std::string>,
                       std::optional<std::vector<std::byte>>>("SELECT NULL, NULL, NULL, NULL, NULL, NULL");
    BOOST_REQUIRE(row.has_value());
    BOOST_TEST(!std::get<0>(*row).has_value());
    BOOST_TEST(!std::get<1>(*row).has_value());
    BOOST_TEST(!std::get<2>(*row).has_value());
    BOOST_TEST(!std::get<3>(*row).has_value());
    BOOST_TEST(!std::get<4>(*row).has_value());
    BOOST_TEST(!std::get<5>(*row).has_value());
    // A present value still has its storage class checked.
    BOOST_CHECK_THROW((void)conn.query_value<std::optional<std::int64_t>>("SELECT 'x'"),
                      sqlpool::misuse_error);
}

BOOST_AUTO_TEST_CASE(a_wrong_storage_class_names_the_column_and_both_types) {
    conn.exec("CREATE TABLE v(t TEXT, i INTEGER, r REAL, b BLOB);"
              "INSERT INTO v VALUES('abc', 1, 1.5, x'01');");
    const auto text_as_int = misuse_message([&] { (void)conn.query_value<std::int64_t>("SELECT t FROM v"); });
    BOOST_TEST(contains(text_as_int, "'t'"), text_as_int);
    BOOST_TEST(contains(text_as_int, "TEXT"), text_as_int);
    BOOST_TEST(contains(text_as_int, "std::int64_t"), text_as_int);
    const auto int_as_string =
        misuse_message([&] { (void)conn.query_value<std::string>("SELECT i FROM v"); });
    BOOST_TEST(contains(int_as_string, "'i'"), int_as_string);
    BOOST_TEST(contains(int_as_string, "INTEGER"), int_as_string);
    BOOST_TEST(contains(int_as_string, "std::string"), int_as_string);
    const auto real_as_int = misuse_message([&] { (void)conn.query_value<int>("SELECT r FROM v"); });
    BOOST_TEST(contains(real_as_int, "REAL"), real_as_int);
    const auto blob_as_string =
        misuse_message([&] { (void)conn.query_value<std::string>("SELECT b FROM v"); });
    BOOST_TEST(contains(blob_as_string, "BLOB"), blob_as_string);
    const auto text_as_blob =
        misuse_message([&] { (void)conn.query_value<std::vector<std::byte>>("SELECT t FROM v"); });
    BOOST_TEST(contains(text_as_blob, "std::vector<std::byte>"), text_as_blob);
    // The column index is named too, in a multi-column row.
    const auto second =
        misuse_message([&] { (void)conn.query_one<std::int64_t, std::int64_t>("SELECT i, t FROM v"); });
    BOOST_TEST(contains(second, "column 1"), second);
}

BOOST_AUTO_TEST_CASE(null_into_a_non_optional_is_a_misuse) {
    conn.exec("CREATE TABLE v(n INTEGER); INSERT INTO v VALUES(NULL);");
    const auto what = misuse_message([&] { (void)conn.query_value<std::int64_t>("SELECT n FROM v"); });
    BOOST_TEST(contains(what, "'n'"), what);
    BOOST_TEST(contains(what, "NULL"), what);
    BOOST_TEST(contains(what, "std::optional"), what);
    BOOST_CHECK_THROW((void)conn.query_value<int>("SELECT n FROM v"), sqlpool::misuse_error);
    BOOST_CHECK_THROW((void)conn.query_value<bool>("SELECT n FROM v"), sqlpool::misuse_error);
    BOOST_CHECK_THROW((void)conn.query_value<double>("SELECT n FROM v"), sqlpool::misuse_error);
    BOOST_CHECK_THROW((void)conn.query_value<std::string>("SELECT n FROM v"), sqlpool::misuse_error);
    BOOST_CHECK_THROW((void)conn.query_value<std::vector<std::byte>>("SELECT n FROM v"),
                      sqlpool::misuse_error);
}

BOOST_AUTO_TEST_SUITE_END()
