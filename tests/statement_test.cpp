// statement: stepping and reading columns, binding by index and by name, reset, and moved-from
// statements.
#define BOOST_TEST_MODULE statement
#include <boost/test/unit_test.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "support/sqlite_helpers.hpp"

import sqlpool;

namespace {

using sqlpool_test::bytes;
using sqlpool_test::contains;
using sqlpool_test::count;
using sqlpool_test::endless;
using sqlpool_test::file_db;
using sqlpool_test::misuse_message;

} // namespace

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
