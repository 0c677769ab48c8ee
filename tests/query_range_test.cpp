// query_range: the rows of a query as an input view — composed with range-v3 and std views,
// holding its statement busy only while rows are left, copies sharing one cursor, and the column
// count checked against the types read.
#define BOOST_TEST_MODULE query_range
#include <boost/test/unit_test.hpp>

#include <range/v3/view/filter.hpp>
#include <range/v3/view/take.hpp>
#include <range/v3/view/transform.hpp>

#include <cstdint>
#include <iterator>
#include <ranges>
#include <string>
#include <tuple>
#include <vector>

#include "support/sqlite_helpers.hpp"

import sqlpool;

namespace {

using sqlpool_test::contains;
using sqlpool_test::file_db;
using sqlpool_test::misuse_message;

struct numbers : file_db {
    numbers() {
        conn.exec("CREATE TABLE n(v INTEGER, name TEXT)");
        for (int i = 1; i <= 10; ++i) conn.exec("INSERT INTO n VALUES(?, ?)", i, "n" + std::to_string(i));
    }
};

} // namespace

BOOST_FIXTURE_TEST_SUITE(ranges, numbers)

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

BOOST_AUTO_TEST_SUITE_END()
