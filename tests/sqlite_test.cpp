// The SQLite layer: opening with safe defaults, binding and reading every type, prepared statements,
// the per-connection statement cache, query ranges, error mapping and connection lifecycle.
#define BOOST_TEST_MODULE sqlite
#include <boost/test/unit_test.hpp>

#include <range/v3/view/filter.hpp>
#include <range/v3/view/take.hpp>
#include <range/v3/view/transform.hpp>

#include <signal.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <limits>
#include <optional>
#include <ranges>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <tuple>
#include <utility>
#include <vector>

#include "support/enum_names.hpp"
#include "support/temp_dir.hpp"

import sqlpool;

using namespace std::chrono_literals;

namespace {

using sqlpool_test::temp_dir;

// A file database with the default options.
struct file_db {
    temp_dir dir;
    std::string path = dir.file("test.db");
    sqlpool::connection conn{path};
};

// Runs `f` and returns the exception of type E it threw, or nullopt when it threw nothing. Any other
// exception escapes, which fails the test.
template <class E, class F>
std::optional<E> thrown(F&& f) {
    try {
        std::forward<F>(f)();
    } catch (const E& e) {
        return e;
    }
    return std::nullopt;
}

template <class F>
std::string misuse_message(F&& f) {
    const auto e = thrown<sqlpool::misuse_error>(std::forward<F>(f));
    return e ? std::string(e->what()) : std::string("<no misuse_error>");
}

bool contains(std::string_view text, std::string_view part) {
    return text.find(part) != std::string_view::npos;
}

std::vector<std::byte> bytes(std::initializer_list<unsigned char> values) {
    std::vector<std::byte> result;
    for (const auto v : values) result.push_back(std::byte{v});
    return result;
}

std::int64_t count(sqlpool::connection& conn, const std::string& table) {
    return conn.query_value<std::int64_t>("SELECT count(*) FROM " + table);
}

// The row ids of the first `n` rows of an endless recursive CTE.
constexpr const char* endless =
    "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT x FROM c";

} // namespace

// ---------------------------------------------------------------------------------------------------
BOOST_AUTO_TEST_SUITE(opening)

BOOST_AUTO_TEST_CASE(opens_creates_and_closes_a_file_database) {
    temp_dir dir;
    const auto path = dir.file("a.db");
    {
        sqlpool::connection conn{path};
        BOOST_TEST(std::filesystem::exists(path));
        BOOST_TEST(conn.options().path == path);
        BOOST_TEST(conn.native_handle() != nullptr);
        BOOST_TEST(conn.broken_code() == 0);
        conn.exec("CREATE TABLE t(v INTEGER); INSERT INTO t VALUES(41), (1);");
    }
    // Closed: the data is on disk and a new connection sees it.
    sqlpool::connection again{sqlpool::open_options{.path = path, .mode = sqlpool::open_mode::read_write}};
    BOOST_TEST(again.query_value<std::int64_t>("SELECT sum(v) FROM t") == 42);
}

BOOST_AUTO_TEST_CASE(file_defaults_are_applied) {
    file_db db;
    auto& conn = db.conn;
    BOOST_TEST(conn.query_value<std::string>("PRAGMA journal_mode") == "wal");
    BOOST_TEST(conn.query_value<std::int64_t>("PRAGMA foreign_keys") == 1);
    BOOST_TEST(conn.query_value<std::int64_t>("PRAGMA synchronous") == 1); // NORMAL
    BOOST_TEST(conn.query_value<std::int64_t>("PRAGMA trusted_schema") == 0);
    BOOST_TEST(conn.query_value<std::int64_t>("PRAGMA busy_timeout") == 2000);
    BOOST_TEST(!conn.read_only());
    BOOST_TEST(!conn.in_transaction());

    int defensive = -1;
    BOOST_TEST(sqlite3_db_config(conn.native_handle(), SQLITE_DBCONFIG_DEFENSIVE, -1, &defensive) ==
               SQLITE_OK);
    BOOST_TEST(defensive == 1);
    int extensions = -1;
    BOOST_TEST(sqlite3_db_config(conn.native_handle(), SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION, -1,
                                 &extensions) == SQLITE_OK);
    BOOST_TEST(extensions == 0);
    int trusted = -1;
    BOOST_TEST(sqlite3_db_config(conn.native_handle(), SQLITE_DBCONFIG_TRUSTED_SCHEMA, -1, &trusted) ==
               SQLITE_OK);
    BOOST_TEST(trusted == 0);
}

BOOST_AUTO_TEST_CASE(defensive_mode_ignores_writable_schema_and_refuses_extensions) {
    file_db db;
    // writable_schema reads back as set, but in defensive mode the schema table stays read-only.
    db.conn.exec("CREATE TABLE t(v); PRAGMA writable_schema=ON;");
    const auto schema =
        thrown<sqlpool::sqlite_error>([&] { db.conn.exec("UPDATE sqlite_schema SET name = name"); });
    BOOST_REQUIRE(schema.has_value());
    BOOST_TEST(contains(schema->sqlite_message(), "may not be modified"), schema->sqlite_message());
    const auto e = thrown<sqlpool::sqlite_error>(
        [&] { (void)db.conn.query_value<std::optional<std::string>>("SELECT load_extension('nope')"); });
    BOOST_REQUIRE(e.has_value());
    BOOST_TEST(contains(e->sqlite_message(), "not authorized"));
}

BOOST_AUTO_TEST_CASE(options_override_the_defaults) {
    temp_dir dir;
    sqlpool::connection conn{sqlpool::open_options{.path = dir.file("o.db"),
                                                   .busy_timeout = 123ms,
                                                   .journal = sqlpool::journal_mode::delete_journal,
                                                   .synchronous = sqlpool::synchronous_mode::full,
                                                   .foreign_keys = false}};
    BOOST_TEST(conn.query_value<std::string>("PRAGMA journal_mode") == "delete");
    BOOST_TEST(conn.query_value<std::int64_t>("PRAGMA synchronous") == 2); // FULL
    BOOST_TEST(conn.query_value<std::int64_t>("PRAGMA foreign_keys") == 0);
    BOOST_TEST(conn.query_value<std::int64_t>("PRAGMA busy_timeout") == 123);
    BOOST_TEST(conn.options().busy_timeout == 123ms);
}

BOOST_AUTO_TEST_CASE(memory_databases_keep_their_journal) {
    sqlpool::connection conn{":memory:"};
    BOOST_TEST(conn.query_value<std::string>("PRAGMA journal_mode") == "memory");
    BOOST_TEST(conn.query_value<std::int64_t>("PRAGMA foreign_keys") == 1);
    BOOST_TEST(sqlpool::is_memory_path(":memory:"));
    BOOST_TEST(sqlpool::is_memory_path("file::memory:?cache=shared"));
    BOOST_TEST(sqlpool::is_memory_path("file:db1?mode=memory&cache=shared"));
    BOOST_TEST(sqlpool::is_memory_path("file:/db?vfs=memdb"));
    BOOST_TEST(!sqlpool::is_memory_path("/tmp/app.db"));
    BOOST_TEST(!sqlpool::is_memory_path("file:app.db?mode=rwc"));
}

BOOST_AUTO_TEST_CASE(memory_paths_are_recognised_by_uri_parts_not_substrings) {
    BOOST_TEST(sqlpool::is_memory_path("file:x?cache=shared&mode=memory#frag"));
    BOOST_TEST(!sqlpool::is_memory_path("notes:memory:.db")); // a plain file name with a colon
    BOOST_TEST(!sqlpool::is_memory_path("file:log-of-mode=memory.db"));
    BOOST_TEST(!sqlpool::is_memory_path("file:app.db?vfs=memdbx"));
    BOOST_TEST(!sqlpool::is_memory_path("file:app.db?xmode=memory"));
    BOOST_TEST(sqlpool::uri_parameter("file:a.db?mode=ro&cache=shared", "cache").value_or("") == "shared");
    BOOST_TEST(sqlpool::uri_parameter("file:a.db?immutable", "immutable").value_or("-") == "");
    BOOST_TEST(!sqlpool::uri_parameter("file:a.db", "mode").has_value());
    BOOST_TEST(!sqlpool::uri_parameter("a.db?mode=ro", "mode").has_value()); // not a URI

    // A file whose name contains ":memory:" is a real file the pool creates and shares.
    temp_dir dir;
    const auto path = (dir.path() / "notes:memory:.db").string();
    {
        sqlpool::connection writer{path};
        writer.exec("CREATE TABLE t(x)");
    }
    BOOST_TEST(std::filesystem::exists(path));
    sqlpool::connection reader{path};
    BOOST_TEST(reader.query_value<std::int64_t>("SELECT count(*) FROM t") == 0);
}

BOOST_AUTO_TEST_CASE(user_pragmas_apply_after_the_defaults) {
    temp_dir dir;
    sqlpool::connection conn{sqlpool::open_options{
        .path = dir.file("p.db"), .pragmas = {{"cache_size", "-4000"}, {"synchronous", "OFF"}}}};
    BOOST_TEST(conn.query_value<std::int64_t>("PRAGMA cache_size") == -4000);
    BOOST_TEST(conn.query_value<std::int64_t>("PRAGMA synchronous") == 0); // overrides NORMAL
}

BOOST_AUTO_TEST_CASE(bad_pragmas_are_refused_before_opening) {
    temp_dir dir;
    const auto path = dir.file("p.db");
    const std::vector<std::pair<std::string, std::string>> bad = {{"cache_size; DROP TABLE x", "1"},
                                                                  {"", "1"},
                                                                  {"cache size", "1"},
                                                                  {"cache_size", ""},
                                                                  {"cache_size", "1;"},
                                                                  {"cache_size", "'1'"},
                                                                  {"main.cache_size", "1"},
                                                                  {"cache_size", "1 OR 1"}};
    for (const auto& pragma : bad) {
        const auto what = misuse_message(
            [&] { sqlpool::connection conn{sqlpool::open_options{.path = path, .pragmas = {pragma}}}; });
        BOOST_TEST(contains(what, "pragma"),
                   "pragma '" << pragma.first << "=" << pragma.second << "': " << what);
    }
    BOOST_TEST(!std::filesystem::exists(path));
}

BOOST_AUTO_TEST_CASE(an_empty_path_is_a_misuse) {
    BOOST_CHECK_THROW(sqlpool::connection(std::string{}), sqlpool::misuse_error);
    BOOST_CHECK_THROW(sqlpool::connection(sqlpool::open_options{}), sqlpool::misuse_error);
}

BOOST_AUTO_TEST_CASE(a_missing_directory_is_cantopen) {
    temp_dir dir;
    const auto path = dir.file("no/such/dir/x.db");
    const auto e = thrown<sqlpool::sqlite_error>([&] { sqlpool::connection conn{path}; });
    BOOST_REQUIRE(e.has_value());
    BOOST_TEST(e->code() == sqlpool::result_code::cantopen);
    BOOST_TEST(contains(e->what(), "no/such/dir"));
    BOOST_TEST(!std::filesystem::exists(dir.path() / "no"));
}

BOOST_AUTO_TEST_CASE(read_write_mode_does_not_create) {
    temp_dir dir;
    const auto path = dir.file("absent.db");
    const auto e = thrown<sqlpool::sqlite_error>([&] {
        sqlpool::connection conn{sqlpool::open_options{.path = path, .mode = sqlpool::open_mode::read_write}};
    });
    BOOST_REQUIRE(e.has_value());
    BOOST_TEST(e->code() == sqlpool::result_code::cantopen);
    BOOST_TEST(!std::filesystem::exists(path));
}

BOOST_AUTO_TEST_CASE(a_file_that_is_not_a_database_is_notadb) {
    temp_dir dir;
    const auto path = dir.file("garbage.db");
    std::ofstream(path, std::ios::binary) << std::string(4096, 'x');
    const auto e = thrown<sqlpool::sqlite_error>([&] { sqlpool::connection conn{path}; });
    BOOST_REQUIRE(e.has_value());
    BOOST_TEST(e->code() == sqlpool::result_code::notadb);
}

BOOST_AUTO_TEST_CASE(nofollow_refuses_a_symlink) {
    temp_dir dir;
    const auto target = dir.file("target.db");
    {
        sqlpool::connection create{target};
    }
    const auto link = dir.path() / "link.db";
    std::filesystem::create_symlink(target, link);
    const auto e = thrown<sqlpool::sqlite_error>(
        [&] { sqlpool::connection conn{sqlpool::open_options{.path = link.string(), .nofollow = true}}; });
    BOOST_REQUIRE(e.has_value());
    BOOST_TEST(e->code() == sqlpool::result_code::cantopen);
    BOOST_TEST(e->extended_code() == sqlpool::result_code::cantopen_symlink);
    // Without nofollow the link opens; a regular file opens with nofollow.
    sqlpool::connection followed{link.string()};
    sqlpool::connection direct{sqlpool::open_options{.path = target, .nofollow = true}};
    BOOST_TEST(direct.query_value<std::int64_t>("SELECT 1") == 1);
}

BOOST_AUTO_TEST_CASE(read_only_connections_cannot_write) {
    file_db db;
    db.conn.exec("CREATE TABLE t(v)");
    sqlpool::connection reader{sqlpool::open_options{.path = db.path, .mode = sqlpool::open_mode::read_only}};
    BOOST_TEST(reader.read_only());
    BOOST_TEST(reader.query_value<std::int64_t>("SELECT count(*) FROM t") == 0);
    const auto e = thrown<sqlpool::sqlite_error>([&] { reader.exec("INSERT INTO t VALUES(1)"); });
    BOOST_REQUIRE(e.has_value());
    BOOST_TEST(e->code() == sqlpool::result_code::readonly);
    BOOST_TEST(reader.broken_code() == 0);
}

BOOST_AUTO_TEST_SUITE_END()

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

// ---------------------------------------------------------------------------------------------------
BOOST_FIXTURE_TEST_SUITE(statements, file_db)

BOOST_AUTO_TEST_CASE(step_and_read_every_column) {
    conn.exec("CREATE TABLE v(a INTEGER, b TEXT, c BLOB); INSERT INTO v VALUES(1, 'one', NULL);"
              "INSERT INTO v VALUES(2, 'two', x'0102');");
    auto stmt = conn.prepare("SELECT a, b, c FROM v WHERE a >= ? ORDER BY a");
    BOOST_TEST(static_cast<bool>(stmt));
    BOOST_TEST(stmt.cached());
    BOOST_TEST(stmt.column_count() == 3);
    BOOST_TEST(stmt.parameter_count() == 1);
    BOOST_TEST(stmt.column_name(0) == "a");
    BOOST_TEST(stmt.column_name(2) == "c");
    BOOST_TEST(stmt.sql() == "SELECT a, b, c FROM v WHERE a >= ? ORDER BY a");
    BOOST_TEST(!stmt.busy());
    stmt.bind(1, 0);
    BOOST_REQUIRE(stmt.step());
    BOOST_TEST(stmt.busy());
    BOOST_TEST(stmt.column<std::int64_t>(0) == 1);
    BOOST_TEST(stmt.column<std::string>(1) == "one");
    BOOST_TEST(stmt.is_null(2));
    BOOST_TEST(!stmt.is_null(1));
    BOOST_REQUIRE(stmt.step());
    BOOST_TEST(stmt.column<int>(0) == 2);
    BOOST_TEST((stmt.column<std::vector<std::byte>>(2) == bytes({1, 2})));
    BOOST_TEST(!stmt.step());
    BOOST_TEST(!stmt.busy());
    // reset() reruns it; new bindings apply.
    stmt.reset();
    stmt.bind(1, 2);
    BOOST_REQUIRE(stmt.step());
    BOOST_TEST(stmt.column<std::int64_t>(0) == 2);
}

BOOST_AUTO_TEST_CASE(column_access_is_guarded) {
    auto stmt = conn.prepare("SELECT 1 AS one, 2 AS two");
    BOOST_TEST(contains(misuse_message([&] { (void)stmt.column<std::int64_t>(0); }), "step()"));
    BOOST_CHECK_THROW((void)stmt.is_null(0), sqlpool::misuse_error);
    BOOST_REQUIRE(stmt.step());
    BOOST_TEST(contains(misuse_message([&] { (void)stmt.column<std::int64_t>(2); }), "out of range"));
    BOOST_CHECK_THROW((void)stmt.column<std::int64_t>(-1), sqlpool::misuse_error);
    BOOST_CHECK_THROW((void)stmt.is_null(2), sqlpool::misuse_error);
    BOOST_CHECK_THROW((void)stmt.column_name(2), sqlpool::misuse_error);
    BOOST_CHECK_THROW((void)stmt.column_name(-1), sqlpool::misuse_error);
    BOOST_TEST(stmt.column<std::int64_t>(1) == 2);
    BOOST_TEST(!stmt.step());
    BOOST_CHECK_THROW((void)stmt.column<std::int64_t>(0), sqlpool::misuse_error); // done: no row
}

BOOST_AUTO_TEST_CASE(named_parameters_bind_by_name) {
    auto stmt = conn.prepare("SELECT :a, @b, $c, ?4");
    BOOST_TEST(stmt.parameter_count() == 4);
    BOOST_TEST(stmt.parameter_index(":a") == 1);
    BOOST_TEST(stmt.parameter_index("$c") == 3);
    stmt.bind(":a", 1).bind("@b", "two").bind("$c", 3.5).bind("?4", nullptr);
    BOOST_REQUIRE(stmt.step());
    BOOST_TEST(stmt.column<std::int64_t>(0) == 1);
    BOOST_TEST(stmt.column<std::string>(1) == "two");
    BOOST_TEST(stmt.column<double>(2) == 3.5);
    BOOST_TEST(stmt.is_null(3));
    // A name used twice is one parameter.
    auto twice = conn.prepare("SELECT :x + :x");
    BOOST_TEST(twice.parameter_count() == 1);
    twice.bind(":x", 21);
    BOOST_REQUIRE(twice.step());
    BOOST_TEST(twice.column<std::int64_t>(0) == 42);
}

BOOST_AUTO_TEST_CASE(an_unknown_named_parameter_is_a_misuse) {
    auto stmt = conn.prepare("SELECT :id");
    const auto what = misuse_message([&] { stmt.bind(":nope", 1); });
    BOOST_TEST(contains(what, ":nope"), what);
    BOOST_CHECK_THROW(stmt.bind("id", 1), sqlpool::misuse_error); // the prefix is part of the name
    BOOST_CHECK_THROW((void)stmt.parameter_index(""), sqlpool::misuse_error);
}

BOOST_AUTO_TEST_CASE(bind_index_out_of_range_is_a_misuse) {
    auto stmt = conn.prepare("SELECT ?, ?");
    const auto what = misuse_message([&] { stmt.bind(3, 1); });
    BOOST_TEST(contains(what, "out of range"), what);
    BOOST_CHECK_THROW(stmt.bind(0, 1), sqlpool::misuse_error);
    BOOST_CHECK_THROW(stmt.bind(-1, "x"), sqlpool::misuse_error);
    stmt.bind(1, 1).bind(2, 2);
    BOOST_REQUIRE(stmt.step());
    BOOST_TEST(stmt.column<std::int64_t>(1) == 2);
}

BOOST_AUTO_TEST_CASE(bind_counts_must_match) {
    conn.exec("CREATE TABLE v(a, b)");
    const auto too_many = misuse_message([&] { conn.exec("INSERT INTO v VALUES(?, ?)", 1, 2, 3); });
    BOOST_TEST(contains(too_many, "2 parameter(s) but 3"), too_many);
    BOOST_CHECK_THROW(conn.exec("INSERT INTO v VALUES(?, ?)", 1), sqlpool::misuse_error);
    BOOST_CHECK_THROW(conn.exec("INSERT INTO v VALUES(1, 2)", 1), sqlpool::misuse_error);
    BOOST_CHECK_THROW((void)conn.query_value<std::int64_t>("SELECT ?", 1, 2), sqlpool::misuse_error);
    BOOST_CHECK_THROW((void)conn.query_value<std::int64_t>("SELECT ? + ?", 1), sqlpool::misuse_error);
    auto stmt = conn.prepare("SELECT ?, ?");
    BOOST_CHECK_THROW(stmt.bind_all(1), sqlpool::misuse_error);
    BOOST_CHECK_THROW(stmt.bind_all(1, 2, 3), sqlpool::misuse_error);
    BOOST_TEST(count(conn, "v") == 0);
}

BOOST_AUTO_TEST_CASE(clear_bindings_makes_parameters_null) {
    auto stmt = conn.prepare("SELECT ?");
    stmt.bind_all(5);
    BOOST_REQUIRE(stmt.step());
    BOOST_TEST(stmt.column<std::int64_t>(0) == 5);
    stmt.reset();
    BOOST_REQUIRE(stmt.step()); // reset keeps the binding
    BOOST_TEST(stmt.column<std::int64_t>(0) == 5);
    stmt.reset();
    stmt.clear_bindings();
    BOOST_REQUIRE(stmt.step());
    BOOST_TEST(stmt.is_null(0));
}

BOOST_AUTO_TEST_CASE(binding_a_running_statement_is_a_misuse) {
    auto stmt = conn.prepare(std::string("SELECT x + ? FROM (") + endless + ")");
    stmt.bind(1, 0);
    BOOST_REQUIRE(stmt.step());
    BOOST_CHECK_THROW(stmt.bind(1, 1), sqlpool::misuse_error);
}

BOOST_AUTO_TEST_CASE(prepare_takes_exactly_one_statement) {
    BOOST_TEST(contains(misuse_message([&] { (void)conn.prepare(""); }), "no statement"));
    BOOST_CHECK_THROW((void)conn.prepare("   \n "), sqlpool::misuse_error);
    BOOST_CHECK_THROW((void)conn.prepare("-- only a comment"), sqlpool::misuse_error);
    BOOST_CHECK_THROW((void)conn.prepare(";"), sqlpool::misuse_error);
    BOOST_TEST(contains(misuse_message([&] { (void)conn.prepare("SELECT 1; SELECT 2"); }), "exec()"));
    BOOST_CHECK_THROW((void)conn.prepare("SELECT 1; -- c\n SELECT 2"), sqlpool::misuse_error);
    // Trailing semicolons, white space and comments are not a second statement.
    BOOST_TEST(conn.prepare("SELECT 1;").column_count() == 1);
    BOOST_TEST(conn.prepare("SELECT 1; ; -- trailing\n /* block */ ").column_count() == 1);
}

BOOST_AUTO_TEST_CASE(a_moved_from_statement_is_a_misuse) {
    auto stmt = conn.prepare("SELECT ?");
    sqlpool::statement moved = std::move(stmt);
    BOOST_TEST(!static_cast<bool>(stmt));
    BOOST_TEST(!stmt.cached());
    BOOST_TEST(stmt.sql().empty());
    BOOST_CHECK_THROW((void)stmt.step(), sqlpool::misuse_error);
    BOOST_CHECK_THROW(stmt.bind(1, 1), sqlpool::misuse_error);
    BOOST_CHECK_THROW(stmt.bind(":x", 1), sqlpool::misuse_error);
    BOOST_CHECK_THROW(stmt.bind_all(1), sqlpool::misuse_error);
    BOOST_CHECK_THROW(stmt.reset(), sqlpool::misuse_error);
    BOOST_CHECK_THROW(stmt.clear_bindings(), sqlpool::misuse_error);
    BOOST_CHECK_THROW((void)stmt.column_count(), sqlpool::misuse_error);
    BOOST_CHECK_THROW((void)stmt.column<std::int64_t>(0), sqlpool::misuse_error);
    BOOST_CHECK_THROW((void)stmt.parameter_count(), sqlpool::misuse_error);
    BOOST_CHECK_THROW((void)stmt.busy(), sqlpool::misuse_error);
    sqlpool::statement empty;
    BOOST_CHECK_THROW((void)empty.step(), sqlpool::misuse_error);
    // The moved-to statement works, also after move assignment.
    sqlpool::statement assigned;
    assigned = std::move(moved);
    assigned.bind(1, 7);
    BOOST_REQUIRE(assigned.step());
    BOOST_TEST(assigned.column<std::int64_t>(0) == 7);
}

BOOST_AUTO_TEST_CASE(a_statement_survives_moving_its_connection) {
    conn.exec("CREATE TABLE v(a); INSERT INTO v VALUES(1), (2);");
    sqlpool::connection moved{":memory:"}; // outlives the statement below
    {
        auto stmt = conn.prepare("SELECT a FROM v ORDER BY a");
        BOOST_REQUIRE(stmt.step());
        moved = std::move(conn);
        BOOST_REQUIRE(stmt.step());
        BOOST_TEST(stmt.column<std::int64_t>(0) == 2);
        BOOST_TEST(moved.busy_statement_count() == 1u);
    }
    BOOST_TEST(moved.busy_statement_count() == 0u);
    BOOST_TEST(moved.statement_cache().hits + moved.statement_cache().misses > 0u);
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------------------------------------------
BOOST_AUTO_TEST_SUITE(statement_cache)

namespace {
struct small_cache {
    temp_dir dir;
    sqlpool::connection conn{sqlpool::open_options{.path = dir.file("c.db"), .statement_cache_size = 2}};
    sqlpool::statement_cache_stats base = conn.statement_cache();

    void run(const char* sql) { (void)conn.query_value<std::int64_t>(sql); }
    [[nodiscard]] std::uint64_t hits() const { return conn.statement_cache().hits - base.hits; }
    [[nodiscard]] std::uint64_t misses() const { return conn.statement_cache().misses - base.misses; }
    [[nodiscard]] std::uint64_t evictions() const {
        return conn.statement_cache().evictions - base.evictions;
    }
};
} // namespace

BOOST_FIXTURE_TEST_CASE(hits_and_misses_are_counted, small_cache) {
    BOOST_TEST(base.capacity == 2u);
    BOOST_TEST(base.size <= 2u);
    run("SELECT 1");
    BOOST_TEST(misses() == 1u);
    BOOST_TEST(hits() == 0u);
    run("SELECT 1");
    run("SELECT 1");
    BOOST_TEST(misses() == 1u);
    BOOST_TEST(hits() == 2u);
    // Different text is a different statement.
    run("SELECT  1");
    BOOST_TEST(misses() == 2u);
}

BOOST_FIXTURE_TEST_CASE(the_least_recently_used_statement_is_evicted, small_cache) {
    run("SELECT 1"); // A
    run("SELECT 2"); // B
    BOOST_TEST(conn.statement_cache().size == 2u);
    const auto evicted_so_far = evictions();
    run("SELECT 1"); // A is now the most recently used
    BOOST_TEST(hits() == 1u);
    run("SELECT 3"); // C evicts B
    BOOST_TEST(evictions() == evicted_so_far + 1u);
    BOOST_TEST(conn.statement_cache().size == 2u);
    run("SELECT 1"); // still cached
    BOOST_TEST(hits() == 2u);
    BOOST_TEST(misses() == 3u);
    run("SELECT 2"); // was evicted
    BOOST_TEST(misses() == 4u);
}

BOOST_FIXTURE_TEST_CASE(a_checked_out_statement_is_never_evicted, small_cache) {
    auto held = conn.prepare("SELECT 41 + 1"); // A, checked out
    BOOST_TEST(held.cached());
    run("SELECT 2"); // B: the cache is [B, A], A least recently used but checked out
    const auto evicted_so_far = evictions();
    run("SELECT 3"); // C must evict B, not A
    BOOST_TEST(evictions() == evicted_so_far + 1u);
    BOOST_REQUIRE(held.step());
    BOOST_TEST(held.column<std::int64_t>(0) == 42);
    held = sqlpool::statement{}; // back to the cache
    const auto hits_before = hits();
    run("SELECT 41 + 1");
    BOOST_TEST(hits() == hits_before + 1u);
    run("SELECT 3");
    BOOST_TEST(hits() == hits_before + 2u);
    const auto misses_before = misses();
    run("SELECT 2");
    BOOST_TEST(misses() == misses_before + 1u);
}

BOOST_FIXTURE_TEST_CASE(a_full_cache_of_checked_out_statements_prepares_uncached, small_cache) {
    auto a = conn.prepare("SELECT 1");
    auto b = conn.prepare("SELECT 2");
    const auto before = conn.statement_cache();
    auto c = conn.prepare("SELECT 3");
    BOOST_TEST(a.cached());
    BOOST_TEST(b.cached());
    BOOST_TEST(!c.cached());
    BOOST_TEST(conn.statement_cache().size == 2u);
    BOOST_TEST(conn.statement_cache().evictions == before.evictions);
    BOOST_REQUIRE(c.step());
    BOOST_TEST(c.column<std::int64_t>(0) == 3);
}

BOOST_FIXTURE_TEST_CASE(the_same_sql_checked_out_twice_gives_independent_statements, small_cache) {
    conn.exec("CREATE TABLE n(v INTEGER); INSERT INTO n VALUES(1), (2), (3);");
    auto first = conn.prepare("SELECT v FROM n ORDER BY v");
    auto twin = conn.prepare("SELECT v FROM n ORDER BY v");
    BOOST_TEST(first.cached());
    BOOST_TEST(!twin.cached());
    BOOST_TEST(first.native_handle() != twin.native_handle());
    // Nested iteration over the same query: the cross product.
    std::int64_t pairs = 0;
    for (auto [a] : conn.query<std::int64_t>("SELECT v FROM n ORDER BY v"))
        for (auto [b] : conn.query<std::int64_t>("SELECT v FROM n ORDER BY v")) pairs += a * 10 + b;
    BOOST_TEST(pairs == (10 + 20 + 30) * 3 + (1 + 2 + 3) * 3);
}

BOOST_FIXTURE_TEST_CASE(a_cached_statement_comes_back_reset_and_unbound, small_cache) {
    {
        auto stmt = conn.prepare("SELECT ?");
        stmt.bind(1, 5);
        BOOST_REQUIRE(stmt.step());
        BOOST_TEST(conn.busy_statement_count() == 1u);
    }
    BOOST_TEST(conn.busy_statement_count() == 0u);
    auto again = conn.prepare("SELECT ?");
    BOOST_TEST(again.cached());
    BOOST_TEST(hits() == 1u);
    BOOST_REQUIRE(again.step());
    BOOST_TEST(again.is_null(0));
}

// Queries through the cache follow schema changes. SQLite re-prepares an expired statement only when it
// is stepped, so sqlpool checks a reused statement's column count after its first step.
BOOST_FIXTURE_TEST_CASE(a_cached_statement_follows_schema_changes, small_cache) {
    conn.exec("CREATE TABLE t(a INTEGER); INSERT INTO t VALUES(1);");
    BOOST_TEST(conn.query_one<std::int64_t>("SELECT * FROM t").has_value());
    conn.exec("ALTER TABLE t ADD COLUMN b INTEGER DEFAULT 2");
    {
        // Before its first step a reused statement may still describe the old schema (documented on
        // statement::reused()); after it, the new one.
        auto stmt = conn.prepare("SELECT * FROM t");
        BOOST_REQUIRE(stmt.step());
        BOOST_TEST(stmt.column_count() == 2);
    }
    std::optional<std::tuple<std::int64_t, std::int64_t>> row;
    BOOST_CHECK_NO_THROW((row = conn.query_one<std::int64_t, std::int64_t>("SELECT * FROM t")));
    BOOST_TEST((row == std::tuple<std::int64_t, std::int64_t>{1, 2}));
}

BOOST_AUTO_TEST_CASE(capacity_zero_disables_the_cache) {
    temp_dir dir;
    sqlpool::connection conn{sqlpool::open_options{.path = dir.file("c.db"), .statement_cache_size = 0}};
    (void)conn.query_value<std::int64_t>("SELECT 1");
    (void)conn.query_value<std::int64_t>("SELECT 1");
    auto stmt = conn.prepare("SELECT 1");
    BOOST_TEST(!stmt.cached());
    BOOST_REQUIRE(stmt.step());
    const auto stats = conn.statement_cache();
    BOOST_TEST(stats.hits == 0u);
    BOOST_TEST(stats.size == 0u);
    BOOST_TEST(stats.capacity == 0u);
    BOOST_TEST(stats.evictions == 0u);
    BOOST_TEST(stats.misses >= 3u);
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------------------------------------------
namespace {
struct numbers : file_db {
    numbers() {
        conn.exec("CREATE TABLE n(v INTEGER, name TEXT)");
        for (int i = 1; i <= 10; ++i) conn.exec("INSERT INTO n VALUES(?, ?)", i, "n" + std::to_string(i));
    }
};
} // namespace

BOOST_FIXTURE_TEST_SUITE(queries, numbers)

BOOST_AUTO_TEST_CASE(ranges_compose_with_range_v3_views) {
    std::vector<std::int64_t> first_three;
    for (auto [v] : conn.query<std::int64_t>("SELECT v FROM n ORDER BY v") | ::ranges::views::take(3))
        first_three.push_back(v);
    BOOST_TEST((first_three == std::vector<std::int64_t>{1, 2, 3}));

    std::vector<std::string> names;
    for (const auto& name :
         conn.query<std::int64_t, std::string>("SELECT v, name FROM n ORDER BY v") |
             ::ranges::views::filter([](const auto& row) { return std::get<0>(row) % 3 == 0; }) |
             ::ranges::views::transform([](const auto& row) { return std::get<1>(row); }))
        names.push_back(name);
    BOOST_TEST((names == std::vector<std::string>{"n3", "n6", "n9"}));
    BOOST_TEST(conn.busy_statement_count() == 0u);
}

BOOST_AUTO_TEST_CASE(ranges_compose_with_std_views) {
    using range = sqlpool::query_range<std::int64_t>;
    static_assert(std::ranges::input_range<range>);
    static_assert(std::ranges::view<range>);
    std::vector<std::int64_t> squares;
    for (auto sq :
         conn.query<std::int64_t>("SELECT v FROM n WHERE v > ? ORDER BY v", 4) |
             std::views::filter([](const auto& row) { return std::get<0>(row) % 2 == 0; }) |
             std::views::transform([](const auto& row) { return std::get<0>(row) * std::get<0>(row); }) |
             std::views::take(2))
        squares.push_back(sq);
    BOOST_TEST((squares == std::vector<std::int64_t>{36, 64}));
    BOOST_TEST(conn.busy_statement_count() == 0u);
}

BOOST_AUTO_TEST_CASE(a_partly_read_range_keeps_its_statement_busy_until_dropped) {
    {
        auto rows = conn.query<std::int64_t>("SELECT v FROM n ORDER BY v");
        auto it = rows.begin();
        BOOST_TEST(std::get<0>(*it) == 1);
        ++it;
        BOOST_TEST(std::get<0>(*it) == 2);
        BOOST_TEST(conn.busy_statement_count() == 1u);
    }
    BOOST_TEST(conn.busy_statement_count() == 0u);
    // A range read to the end hands its statement back even while the range is alive.
    auto rows = conn.query<std::int64_t>("SELECT v FROM n");
    std::int64_t sum = 0;
    for (auto [v] : rows) sum += v;
    BOOST_TEST(sum == 55);
    BOOST_TEST(conn.busy_statement_count() == 0u);
    BOOST_TEST((rows.begin() == std::default_sentinel));
}

BOOST_AUTO_TEST_CASE(copies_of_a_range_share_one_cursor) {
    auto rows = conn.query<std::int64_t>("SELECT v FROM n ORDER BY v");
    auto copy = rows;
    auto it = rows.begin();
    ++it;
    BOOST_TEST(std::get<0>(*copy.begin()) == 2);
}

BOOST_AUTO_TEST_CASE(the_number_of_types_must_match_the_columns) {
    const auto too_many =
        misuse_message([&] { (void)conn.query<std::int64_t, std::string, double>("SELECT v, name FROM n"); });
    BOOST_TEST(contains(too_many, "3 column(s)"), too_many);
    BOOST_TEST(contains(too_many, "returns 2"), too_many);
    BOOST_CHECK_THROW((void)conn.query<std::int64_t>("SELECT v, name FROM n"), sqlpool::misuse_error);
    BOOST_CHECK_THROW((void)conn.query_one<std::int64_t>("SELECT v, name FROM n"), sqlpool::misuse_error);
    BOOST_CHECK_THROW((void)conn.query_value<std::int64_t>("SELECT v, name FROM n"), sqlpool::misuse_error);
    BOOST_TEST(conn.busy_statement_count() == 0u);
}

BOOST_AUTO_TEST_CASE(query_one_returns_the_first_row_or_nothing) {
    BOOST_TEST(!conn.query_one<std::int64_t>("SELECT v FROM n WHERE v > ?", 100).has_value());
    const auto row =
        conn.query_one<std::int64_t, std::string>("SELECT v, name FROM n WHERE v >= ? ORDER BY v", 4);
    BOOST_REQUIRE(row.has_value());
    BOOST_TEST(std::get<0>(*row) == 4);
    BOOST_TEST(std::get<1>(*row) == "n4");
    BOOST_TEST(conn.busy_statement_count() == 0u);
}

BOOST_AUTO_TEST_CASE(query_value_needs_a_row) {
    BOOST_TEST(conn.query_value<std::int64_t>("SELECT count(*) FROM n") == 10);
    BOOST_TEST(conn.query_value<std::string>("SELECT name FROM n WHERE v = ?", 7) == "n7");
    const auto e =
        thrown<sqlpool::error>([&] { (void)conn.query_value<std::int64_t>("SELECT v FROM n WHERE 0"); });
    BOOST_REQUIRE(e.has_value());
    BOOST_TEST(contains(e->what(), "SELECT v FROM n WHERE 0"), e->what());
    BOOST_TEST(!conn.query_value<std::optional<std::int64_t>>("SELECT max(v) FROM n WHERE 0").has_value());
}

BOOST_AUTO_TEST_CASE(exec_runs_scripts) {
    conn.exec("CREATE TABLE a(v); CREATE TABLE b(v);\n"
              "-- a comment\n INSERT INTO a VALUES(1); /* block */ INSERT INTO b SELECT v FROM a;\n"
              "SELECT * FROM a;;");
    BOOST_TEST(conn.query_value<std::int64_t>("SELECT (SELECT v FROM a) + (SELECT v FROM b)") == 2);
    conn.exec("");
    conn.exec("  -- nothing but a comment");
    BOOST_TEST(conn.query_value<std::int64_t>("SELECT count(*) FROM a") == 1);
    // A statement with rows runs to completion.
    conn.exec("UPDATE a SET v = v + 1 RETURNING v");
    BOOST_TEST(conn.query_value<std::int64_t>("SELECT v FROM a") == 2);
}

BOOST_AUTO_TEST_CASE(exec_with_arguments_takes_one_statement) {
    conn.exec("CREATE TABLE a(v)");
    const auto what =
        misuse_message([&] { conn.exec("INSERT INTO a VALUES(?); INSERT INTO a VALUES(?)", 1, 2); });
    BOOST_TEST(contains(what, "one statement"), what);
    BOOST_CHECK_THROW(conn.exec("-- nothing", 1), sqlpool::misuse_error);
    BOOST_TEST(count(conn, "a") == 0);
    conn.exec("INSERT INTO a VALUES(?); -- trailing comment", 3);
    BOOST_TEST(conn.query_value<std::int64_t>("SELECT v FROM a") == 3);
}

BOOST_AUTO_TEST_CASE(a_script_stops_at_its_first_error) {
    conn.exec("CREATE TABLE a(v UNIQUE)");
    const auto e = thrown<sqlpool::sqlite_error>(
        [&] { conn.exec("INSERT INTO a VALUES(1); INSERT INTO a VALUES(1); INSERT INTO a VALUES(2);"); });
    BOOST_REQUIRE(e.has_value());
    BOOST_TEST(e->extended_code() == sqlpool::result_code::constraint_unique);
    BOOST_TEST(contains(e->sql(), "INSERT INTO a VALUES(1)"), e->sql());
    BOOST_TEST(count(conn, "a") == 1); // autocommit: the first insert stays, the third never ran
    const auto syntax =
        thrown<sqlpool::sqlite_error>([&] { conn.exec("INSERT INTO a VALUES(5); SELEKT 1;"); });
    BOOST_REQUIRE(syntax.has_value());
    BOOST_TEST(contains(syntax->what(), "SELEKT 1"), syntax->what());
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------------------------------------------
BOOST_FIXTURE_TEST_SUITE(error_mapping, file_db)

BOOST_AUTO_TEST_CASE(a_syntax_error_carries_the_sql) {
    const auto e = thrown<sqlpool::sqlite_error>([&] { conn.exec("SELEKT 1"); });
    BOOST_REQUIRE(e.has_value());
    BOOST_TEST(e->code() == sqlpool::result_code::error);
    BOOST_TEST(e->sql() == "SELEKT 1");
    BOOST_TEST(contains(e->sqlite_message(), "syntax error"), e->sqlite_message());
    BOOST_TEST(contains(e->what(), "SELEKT 1"), e->what());
    BOOST_TEST(contains(e->what(), "syntax error"), e->what());
    const auto from_prepare =
        thrown<sqlpool::sqlite_error>([&] { (void)conn.prepare("SELECT * FROM nowhere"); });
    BOOST_REQUIRE(from_prepare.has_value());
    BOOST_TEST(contains(from_prepare->sqlite_message(), "no such table"), from_prepare->sqlite_message());
    BOOST_TEST(from_prepare->sql() == "SELECT * FROM nowhere");
    BOOST_CHECK_THROW((void)conn.query<std::int64_t>("SELECT nope"), sqlpool::sqlite_error);
}

BOOST_AUTO_TEST_CASE(constraint_violations_carry_extended_codes) {
    conn.exec("CREATE TABLE p(id INTEGER PRIMARY KEY, u TEXT UNIQUE, nn TEXT NOT NULL DEFAULT 'x',"
              "  c INTEGER CHECK (c >= 0));"
              "CREATE TABLE k(pid INTEGER REFERENCES p(id));"
              "INSERT INTO p(id, u) VALUES(1, 'a');");
    const auto failing = [&](const char* sql) {
        return thrown<sqlpool::sqlite_error>([&] { conn.exec(sql); });
    };
    const std::vector<std::pair<const char*, int>> cases = {
        {"INSERT INTO p(id, u) VALUES(2, 'a')", sqlpool::result_code::constraint_unique},
        {"INSERT INTO p(id, u) VALUES(1, 'b')", sqlpool::result_code::constraint_primarykey},
        {"INSERT INTO p(id, u, nn) VALUES(3, 'c', NULL)", sqlpool::result_code::constraint_notnull},
        {"INSERT INTO p(id, u, c) VALUES(4, 'd', -1)", sqlpool::result_code::constraint_check},
        {"INSERT INTO k VALUES(99)", sqlpool::result_code::constraint_foreignkey},
    };
    for (const auto& [sql, expected] : cases) {
        const auto e = failing(sql);
        BOOST_REQUIRE_MESSAGE(e.has_value(), sql);
        BOOST_TEST(e->code() == sqlpool::result_code::constraint, sql);
        BOOST_TEST(e->extended_code() == expected, sql);
        BOOST_TEST(e->sql() == sql);
        BOOST_TEST(contains(e->what(), sql), e->what());
    }
    // With arguments the SQL text is carried as well.
    const auto bound = thrown<sqlpool::sqlite_error>([&] { conn.exec("INSERT INTO k VALUES(?)", 98); });
    BOOST_REQUIRE(bound.has_value());
    BOOST_TEST(bound->sql() == "INSERT INTO k VALUES(?)");
    BOOST_TEST(conn.broken_code() == 0); // constraint errors do not break a connection
    BOOST_TEST(count(conn, "k") == 0);
}

BOOST_AUTO_TEST_CASE(contending_writers_get_a_busy_error) {
    sqlpool::connection other{sqlpool::open_options{.path = path, .busy_timeout = 0ms}};
    conn.exec("CREATE TABLE t(v)");
    conn.exec("BEGIN IMMEDIATE");
    const auto e = thrown<sqlpool::busy_error>([&] { other.exec("BEGIN IMMEDIATE"); });
    BOOST_REQUIRE(e.has_value());
    BOOST_TEST(e->code() == sqlpool::result_code::busy);
    BOOST_TEST(e->sql() == "BEGIN IMMEDIATE");
    BOOST_TEST(!other.in_transaction());
    // An autocommit write is refused the same way, and is catchable as its base classes.
    bool caught_as_sqlite_error = false;
    try {
        other.exec("INSERT INTO t VALUES(1)");
    } catch (const sqlpool::sqlite_error& as_base) {
        caught_as_sqlite_error = as_base.code() == sqlpool::result_code::busy &&
                                 dynamic_cast<const sqlpool::busy_error*>(&as_base) != nullptr;
    }
    BOOST_TEST(caught_as_sqlite_error);
    BOOST_CHECK_THROW(other.exec("INSERT INTO t VALUES(1)"), sqlpool::error);
    BOOST_TEST(other.broken_code() == 0);
    conn.exec("COMMIT");
    other.exec("BEGIN IMMEDIATE");
    other.exec("INSERT INTO t VALUES(2)");
    other.exec("COMMIT");
    BOOST_TEST(count(conn, "t") == 1);
}

BOOST_AUTO_TEST_CASE(a_shared_cache_table_lock_is_a_busy_error_with_code_locked) {
    const auto uri = "file:sqlpool-locked-" + std::to_string(::getpid()) + "?mode=memory&cache=shared";
    sqlpool::connection writer{uri};
    sqlpool::connection reader{uri};
    writer.exec("CREATE TABLE t(v); INSERT INTO t VALUES(1);");
    writer.exec("BEGIN");
    writer.exec("INSERT INTO t VALUES(2)");
    const auto e = thrown<sqlpool::busy_error>(
        [&] { (void)reader.query_value<std::int64_t>("SELECT count(*) FROM t"); });
    BOOST_REQUIRE(e.has_value());
    BOOST_TEST(e->code() == sqlpool::result_code::locked);
    writer.exec("COMMIT");
    BOOST_TEST(reader.query_value<std::int64_t>("SELECT count(*) FROM t") == 2);
}

BOOST_AUTO_TEST_CASE(a_file_overwritten_with_garbage_breaks_the_connection) {
    temp_dir dir;
    const auto victim = dir.file("victim.db");
    sqlpool::connection db{
        sqlpool::open_options{.path = victim, .journal = sqlpool::journal_mode::delete_journal}};
    db.exec("CREATE TABLE t(v); INSERT INTO t VALUES(1);");
    BOOST_TEST(db.broken_code() == 0);
    std::ofstream(victim, std::ios::binary | std::ios::trunc) << std::string(8192, 'x');
    const auto e =
        thrown<sqlpool::sqlite_error>([&] { (void)db.query_value<std::int64_t>("SELECT count(*) FROM t"); });
    BOOST_REQUIRE(e.has_value());
    BOOST_TEST(e->code() == sqlpool::result_code::notadb);
    BOOST_TEST(db.broken_code() == e->extended_code());
    db.mark_broken(sqlpool::result_code::ioerr); // the first code sticks
    BOOST_TEST(db.broken_code() == e->extended_code());
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------------------------------------------
BOOST_FIXTURE_TEST_SUITE(lifecycle, file_db)

BOOST_AUTO_TEST_CASE(a_moved_from_connection_is_a_misuse) {
    conn.exec("CREATE TABLE t(v)");
    sqlpool::connection moved = std::move(conn);
    BOOST_CHECK_THROW(conn.exec("SELECT 1"), sqlpool::misuse_error);
    BOOST_CHECK_THROW(conn.exec("SELECT ?", 1), sqlpool::misuse_error);
    BOOST_CHECK_THROW((void)conn.prepare("SELECT 1"), sqlpool::misuse_error);
    BOOST_CHECK_THROW((void)conn.query<std::int64_t>("SELECT 1"), sqlpool::misuse_error);
    BOOST_CHECK_THROW((void)conn.query_one<std::int64_t>("SELECT 1"), sqlpool::misuse_error);
    BOOST_CHECK_THROW((void)conn.query_value<std::int64_t>("SELECT 1"), sqlpool::misuse_error);
    BOOST_CHECK_THROW((void)conn.changes(), sqlpool::misuse_error);
    BOOST_CHECK_THROW((void)conn.last_insert_rowid(), sqlpool::misuse_error);
    BOOST_CHECK_THROW((void)conn.in_transaction(), sqlpool::misuse_error);
    BOOST_CHECK_THROW((void)conn.read_only(), sqlpool::misuse_error);
    // The noexcept accessors report "nothing" instead.
    BOOST_TEST(conn.native_handle() == nullptr);
    BOOST_TEST(conn.broken_code() == 0);
    BOOST_TEST(conn.busy_statement_count() == 0u);
    BOOST_TEST(conn.reset_all_statements() == 0u);
    conn.interrupt();
    // The moved-to connection has everything, and move assignment revives the moved-from one.
    moved.exec("INSERT INTO t VALUES(1)");
    BOOST_TEST(count(moved, "t") == 1);
    conn = std::move(moved);
    BOOST_TEST(count(conn, "t") == 1);
    BOOST_CHECK_THROW((void)moved.changes(), sqlpool::misuse_error);
}

// statement_cache() is noexcept but goes through the throwing core() accessor: on a moved-from
// connection it must report (an empty cache, or a misuse_error) rather than call std::terminate. The
// call runs in a child process so that a terminate does not take the whole test program down.
BOOST_AUTO_TEST_CASE(statement_cache_of_a_moved_from_connection_does_not_terminate) {
    sqlpool::connection moved = std::move(conn);
    const pid_t child = ::fork();
    BOOST_REQUIRE(child >= 0);
    if (child == 0) {
        // Let a terminate kill the child instead of Boost.Test's SIGABRT handler reporting it again.
        struct sigaction default_action{};
        default_action.sa_handler = SIG_DFL;
        ::sigaction(SIGABRT, &default_action, nullptr);
        int status = 3;
        try {
            const auto stats = conn.statement_cache();
            status = stats.size == 0 ? 0 : 4;
        } catch (const sqlpool::misuse_error&) {
            status = 0;
        } catch (...) {
            status = 5;
        }
        ::_exit(status);
    }
    int status = 0;
    BOOST_REQUIRE(::waitpid(child, &status, 0) == child);
    BOOST_TEST(WIFEXITED(status),
               "the child was killed by signal " << (WIFSIGNALED(status) ? WTERMSIG(status) : 0));
    if (WIFEXITED(status)) BOOST_TEST(WEXITSTATUS(status) == 0);
}

BOOST_AUTO_TEST_CASE(reset_all_statements_resets_statements_left_mid_step) {
    BOOST_TEST(conn.reset_all_statements() == 0u);
    conn.exec("CREATE TABLE t(v); INSERT INTO t VALUES(1), (2), (3);");
    auto rows = conn.query<std::int64_t>("SELECT v FROM t ORDER BY v"); // cached, kept alive
    auto it = rows.begin();
    BOOST_TEST(std::get<0>(*it) == 1);
    auto twin = conn.prepare("SELECT v FROM t ORDER BY v"); // uncached: the cached one is checked out
    BOOST_TEST(!twin.cached());
    BOOST_REQUIRE(twin.step());
    BOOST_REQUIRE(twin.step());
    BOOST_TEST(twin.column<std::int64_t>(0) == 2);
    BOOST_TEST(conn.busy_statement_count() == 2u);
    BOOST_TEST(conn.reset_all_statements() == 2u);
    BOOST_TEST(conn.busy_statement_count() == 0u);
    BOOST_TEST(!twin.busy());
    // A reset statement starts over.
    BOOST_REQUIRE(twin.step());
    BOOST_TEST(twin.column<std::int64_t>(0) == 1);
    // A statement left mid-step locks its table against DROP; resetting it releases the table.
    const auto locked = thrown<sqlpool::busy_error>([&] { conn.exec("DROP TABLE t"); });
    BOOST_REQUIRE(locked.has_value());
    BOOST_TEST(locked->code() == sqlpool::result_code::locked);
    BOOST_TEST(conn.reset_all_statements() == 1u);
    conn.exec("DROP TABLE t");
    BOOST_TEST(conn.query_value<std::int64_t>("SELECT count(*) FROM sqlite_schema WHERE name = 't'") == 0);
}

BOOST_AUTO_TEST_CASE(in_transaction_follows_begin_commit_and_rollback) {
    conn.exec("CREATE TABLE t(v)");
    BOOST_TEST(!conn.in_transaction());
    conn.exec("BEGIN");
    BOOST_TEST(conn.in_transaction());
    conn.exec("INSERT INTO t VALUES(1)");
    conn.exec("ROLLBACK");
    BOOST_TEST(!conn.in_transaction());
    BOOST_TEST(count(conn, "t") == 0);
    conn.exec("SAVEPOINT s");
    BOOST_TEST(conn.in_transaction());
    conn.exec("INSERT INTO t VALUES(2)");
    conn.exec("RELEASE s");
    BOOST_TEST(!conn.in_transaction());
    conn.exec("BEGIN IMMEDIATE; INSERT INTO t VALUES(3);");
    BOOST_TEST(conn.in_transaction());
    conn.exec("COMMIT");
    BOOST_TEST(!conn.in_transaction());
    BOOST_TEST(count(conn, "t") == 2);
}

BOOST_AUTO_TEST_CASE(changes_and_last_insert_rowid) {
    conn.exec("CREATE TABLE t(id INTEGER PRIMARY KEY, v INTEGER)");
    conn.exec("INSERT INTO t(v) VALUES(?), (?), (?)", 1, 2, 3);
    BOOST_TEST(conn.changes() == 3);
    BOOST_TEST(conn.last_insert_rowid() == 3);
    conn.exec("INSERT INTO t(id, v) VALUES(?, ?)", std::int64_t{1} << 40, 4);
    BOOST_TEST(conn.changes() == 1);
    BOOST_TEST(conn.last_insert_rowid() == std::int64_t{1} << 40);
    conn.exec("UPDATE t SET v = v * 10 WHERE v >= ?", 2);
    BOOST_TEST(conn.changes() == 3);
    conn.exec("DELETE FROM t WHERE v > ?", 1000);
    BOOST_TEST(conn.changes() == 0);
    conn.exec("DELETE FROM t");
    BOOST_TEST(conn.changes() == 4);
}

// sqlite3_interrupt() is a no-op when nothing runs, so the statement is left running (mid-step) first:
// its next step then fails with SQLITE_INTERRUPT, deterministically and in one thread.
BOOST_AUTO_TEST_CASE(interrupt_stops_a_running_statement) {
    {
        auto rows = conn.query<std::int64_t>(endless);
        auto it = rows.begin();
        BOOST_TEST(std::get<0>(*it) == 1);
        conn.interrupt();
        const auto e = thrown<sqlpool::sqlite_error>([&] {
            for (int i = 0; i < 1000; ++i) ++it;
        });
        BOOST_REQUIRE(e.has_value());
        BOOST_TEST(e->code() == sqlpool::result_code::interrupt);
        BOOST_TEST(contains(e->sql(), "WITH RECURSIVE"), e->sql());
    }
    BOOST_TEST(conn.broken_code() == 0);
    BOOST_TEST(conn.query_value<std::int64_t>("SELECT 1") == 1); // the interrupt is over
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(hardening)

BOOST_AUTO_TEST_CASE(new_files_are_private_unless_configured) {
    const auto mode_of = [](const std::string& path) {
        struct stat st{};
        BOOST_REQUIRE(::stat(path.c_str(), &st) == 0);
        return st.st_mode & 0777u;
    };
    // The mode is the one configured whatever the process's umask: a strict one (CI's) does not
    // narrow 0640, an open one does not widen 0600.
    for (const mode_t mask : {mode_t{0077}, mode_t{0022}, mode_t{0}}) {
        BOOST_TEST_CONTEXT("umask 0" << std::oct << mask) {
            temp_dir dir;
            const mode_t saved = ::umask(mask);
            {
                sqlpool::connection conn{dir.file("private.db")};
            }
            {
                sqlpool::connection conn{
                    sqlpool::open_options{.path = dir.file("shared.db"), .file_mode = 0640}};
            }
            ::umask(saved);
            BOOST_TEST(mode_of(dir.file("private.db")) == 0600u);
            BOOST_TEST(mode_of(dir.file("shared.db")) == 0640u);
        }
    }
}

BOOST_AUTO_TEST_CASE(defensive_and_trusted_schema_can_be_switched) {
    temp_dir dir;
    sqlpool::connection relaxed{
        sqlpool::open_options{.path = dir.file("r.db"), .defensive = false, .trusted_schema = true}};
    int defensive = -1;
    BOOST_TEST(sqlite3_db_config(relaxed.native_handle(), SQLITE_DBCONFIG_DEFENSIVE, -1, &defensive) ==
               SQLITE_OK);
    BOOST_TEST(defensive == 0);
    BOOST_TEST(relaxed.query_value<std::int64_t>("PRAGMA trusted_schema") == 1);
}

BOOST_AUTO_TEST_CASE(limits_are_applied) {
    temp_dir dir;
    sqlpool::connection limited{sqlpool::open_options{
        .path = dir.file("l.db"), .limits = {{sqlpool::limit::length, 1000}, {sqlpool::limit::attached, 0}}}};
    BOOST_TEST(sqlite3_limit(limited.native_handle(), SQLITE_LIMIT_LENGTH, -1) == 1000);
    BOOST_CHECK_THROW((void)limited.query_value<std::vector<std::byte>>("SELECT randomblob(2000)"),
                      sqlpool::sqlite_error);
    BOOST_CHECK_THROW(limited.exec("ATTACH ':memory:' AS other"), sqlpool::sqlite_error);
}

BOOST_AUTO_TEST_CASE(authorizer_is_consulted_and_a_throwing_one_denies) {
    temp_dir dir;
    int seen = 0;
    sqlpool::connection guarded{
        sqlpool::open_options{.path = dir.file("a.db"),
                              .authorizer = [&seen](int action, std::string_view first, std::string_view,
                                                    std::string_view, std::string_view) {
                                  ++seen;
                                  if (action == SQLITE_DELETE) return sqlpool::authorizer_result::deny;
                                  if (first == "boom") throw std::runtime_error("authorizer failed");
                                  return sqlpool::authorizer_result::ok;
                              }}};
    guarded.exec("CREATE TABLE t(v); INSERT INTO t VALUES(1);");
    BOOST_TEST(seen > 0);
    BOOST_CHECK_THROW(guarded.exec("DELETE FROM t"), sqlpool::sqlite_error);
    BOOST_CHECK_THROW(guarded.exec("CREATE TABLE boom(v)"), sqlpool::sqlite_error);
    BOOST_TEST(guarded.query_value<std::int64_t>("SELECT count(*) FROM t") == 1);
    // sqlpool's own bookkeeping still runs alongside the user's authorizer.
    guarded.exec("PRAGMA cache_size = 10");
    BOOST_TEST(guarded.settings_changed());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_CASE(fts3_tokenizer_pointers_are_refused) {
    // fts3_tokenizer(name, pointer) would let SQL text register a tokenizer at any address.
    temp_dir dir;
    sqlpool::connection conn{dir.file("f.db")};
    int enabled = -1;
    BOOST_TEST(sqlite3_db_config(conn.native_handle(), SQLITE_DBCONFIG_ENABLE_FTS3_TOKENIZER, -1, &enabled) ==
               SQLITE_OK);
    BOOST_TEST(enabled == 0);
    BOOST_CHECK_THROW(conn.exec("SELECT fts3_tokenizer('evil', x'4141414141414141')"), sqlpool::sqlite_error);
}

BOOST_AUTO_TEST_SUITE(statement_tracking)

// reset_all_statements() skips its walk over every prepared statement only when none can be
// mid-step; each way a statement can be left running must still be found and reset.
BOOST_AUTO_TEST_CASE(a_held_cached_statement_is_found) {
    sqlpool::connection conn{":memory:"};
    auto stmt = conn.prepare("SELECT 1 UNION ALL SELECT 2");
    BOOST_REQUIRE(stmt.cached());
    BOOST_REQUIRE(stmt.step());
    BOOST_TEST(conn.reset_all_statements() == 1u);
    BOOST_TEST(!stmt.busy());
}

BOOST_AUTO_TEST_CASE(a_held_uncached_statement_is_found) {
    temp_dir dir;
    sqlpool::connection conn{sqlpool::open_options{.path = dir.file("u.db"), .statement_cache_size = 0}};
    auto stmt = conn.prepare("SELECT 1 UNION ALL SELECT 2");
    BOOST_REQUIRE(!stmt.cached());
    BOOST_REQUIRE(stmt.step());
    BOOST_TEST(conn.reset_all_statements() == 1u);
}

BOOST_AUTO_TEST_CASE(a_statement_prepared_through_the_raw_handle_is_found) {
    sqlpool::connection conn{":memory:"};
    BOOST_TEST(conn.reset_all_statements() == 0u);
    sqlite3_stmt* raw = nullptr;
    BOOST_REQUIRE(sqlite3_prepare_v2(conn.native_handle(), "SELECT 1 UNION ALL SELECT 2", -1, &raw,
                                     nullptr) == SQLITE_OK);
    BOOST_REQUIRE(sqlite3_step(raw) == SQLITE_ROW);
    BOOST_TEST(conn.reset_all_statements() == 1u);
    BOOST_TEST(sqlite3_stmt_busy(raw) == 0);
    sqlite3_finalize(raw);
}

BOOST_AUTO_TEST_CASE(nothing_is_reset_once_every_statement_is_back) {
    sqlpool::connection conn{":memory:"};
    {
        auto cached = conn.prepare("SELECT 1 UNION ALL SELECT 2");
        BOOST_REQUIRE(cached.step());
        auto moved = std::move(cached); // still one statement held
        BOOST_TEST(conn.reset_all_statements() == 1u);
        BOOST_REQUIRE(moved.step());
    }
    BOOST_TEST(conn.busy_statement_count() == 0u);
    BOOST_TEST(conn.reset_all_statements() == 0u);
}

BOOST_AUTO_TEST_CASE(an_uncached_statement_may_outlive_its_connection) {
    temp_dir dir;
    std::optional<sqlpool::statement> survivor;
    {
        sqlpool::connection conn{sqlpool::open_options{.path = dir.file("o.db"), .statement_cache_size = 0}};
        survivor.emplace(conn.prepare("SELECT 1"));
    }
    BOOST_TEST(survivor->step()); // sqlite3_close_v2 kept the handle for it
    survivor.reset();             // finalizes, and the connection's count goes with it
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_CASE(every_isolation_level_has_a_name) {
    const auto name = [](sqlpool::isolation_level level) { return std::string(sqlpool::to_string(level)); };
    BOOST_TEST(sqlpool_test::every_value_named<sqlpool::isolation_level>(3, name));
    BOOST_TEST(name(sqlpool::isolation_level::immediate) == "immediate");
}
