// The exception hierarchy: what each class derives from, what it carries, and what its what() says.
#define BOOST_TEST_MODULE errors
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

import sqlpool;

namespace {

bool contains(std::string_view text, std::string_view part) {
    return text.find(part) != std::string_view::npos;
}

// Which handler of a try block with the most derived handlers first catches `e`.
template <class E>
std::string first_handler(const E& e) {
    try {
        throw e;
    } catch (const sqlpool::busy_error&) {
        return "busy_error";
    } catch (const sqlpool::sqlite_error&) {
        return "sqlite_error";
    } catch (const sqlpool::misuse_error&) {
        return "misuse_error";
    } catch (const sqlpool::config_error&) {
        return "config_error";
    } catch (const sqlpool::transaction_error&) {
        return "transaction_error";
    } catch (const sqlpool::error&) {
        return "error";
    } catch (const std::runtime_error&) {
        return "runtime_error";
    }
}

// The most general handler, sqlpool::error, catches every sqlpool exception.
template <class E>
bool caught_as_error(const E& e) {
    try {
        throw e;
    } catch (const sqlpool::error&) {
        return true;
    } catch (...) {
        return false;
    }
}

} // namespace

BOOST_AUTO_TEST_SUITE(hierarchy)

BOOST_AUTO_TEST_CASE(every_class_derives_from_error_and_runtime_error) {
    static_assert(std::is_base_of_v<std::runtime_error, sqlpool::error>);
    static_assert(std::is_base_of_v<sqlpool::error, sqlpool::sqlite_error>);
    static_assert(std::is_base_of_v<sqlpool::sqlite_error, sqlpool::busy_error>);
    static_assert(std::is_base_of_v<sqlpool::error, sqlpool::misuse_error>);
    static_assert(std::is_base_of_v<sqlpool::error, sqlpool::config_error>);
    static_assert(std::is_base_of_v<sqlpool::error, sqlpool::transaction_error>);
    static_assert(std::is_base_of_v<sqlpool::error, sqlpool::state_error>);
    BOOST_TEST(caught_as_error(sqlpool::busy_error(sqlpool::result_code::busy, "m", "")));
    BOOST_TEST(caught_as_error(sqlpool::sqlite_error(sqlpool::result_code::ioerr, "m", "")));
    BOOST_TEST(caught_as_error(sqlpool::misuse_error("m")));
    BOOST_TEST(caught_as_error(sqlpool::config_error({"m"})));
    BOOST_TEST(caught_as_error(sqlpool::transaction_error("m")));
    BOOST_TEST(caught_as_error(sqlpool::state_error("m")));
    BOOST_TEST(caught_as_error(sqlpool::schema_error("m")));
    BOOST_TEST(caught_as_error(sqlpool::start_error("db", "m")));
    static_assert(std::is_base_of_v<sqlpool::error, sqlpool::cancelled_error>);
    static_assert(!std::is_base_of_v<sqlpool::timeout_error, sqlpool::cancelled_error>); // not a timeout
    BOOST_TEST(caught_as_error(sqlpool::cancelled_error("m")));
    // A deadline that passed outside an acquire carries no pool snapshot.
    const sqlpool::timeout_error past_deadline("m", std::chrono::nanoseconds::zero());
    BOOST_TEST(past_deadline.stats().total == 0u);
}

BOOST_AUTO_TEST_CASE(the_most_specific_handler_wins) {
    BOOST_TEST(first_handler(sqlpool::busy_error(sqlpool::result_code::busy, "m", "")) == "busy_error");
    BOOST_TEST(first_handler(sqlpool::sqlite_error(sqlpool::result_code::constraint, "m", "")) ==
               "sqlite_error");
    BOOST_TEST(first_handler(sqlpool::misuse_error("m")) == "misuse_error");
    BOOST_TEST(first_handler(sqlpool::config_error({"m"})) == "config_error");
    BOOST_TEST(first_handler(sqlpool::transaction_error("m")) == "transaction_error");
    BOOST_TEST(first_handler(sqlpool::error("m")) == "error");
}

BOOST_AUTO_TEST_CASE(server_errors_carry_sqlstate_message_and_sql) {
    static_assert(std::is_base_of_v<sqlpool::error, sqlpool::server_error>);
    static_assert(std::is_base_of_v<sqlpool::server_error, sqlpool::serialization_error>);
    static_assert(std::is_base_of_v<sqlpool::server_error, sqlpool::connection_lost_error>);
    static_assert(std::is_base_of_v<sqlpool::server_error, sqlpool::commit_unknown_error>);
    static_assert(!std::is_base_of_v<sqlpool::sqlite_error, sqlpool::server_error>);
    const sqlpool::serialization_error e("40001", "could not serialize access", "UPDATE t SET v = 1");
    BOOST_TEST(e.sqlstate() == "40001");
    BOOST_TEST(e.server_message() == "could not serialize access");
    BOOST_TEST(e.sql() == "UPDATE t SET v = 1");
    BOOST_TEST(std::string(e.what()) ==
               "server error 40001: could not serialize access [sql: UPDATE t SET v = 1]");
    const sqlpool::connection_lost_error lost("08006", "server closed the connection unexpectedly", "");
    BOOST_TEST(std::string(lost.what()) == "server error 08006: server closed the connection unexpectedly");
    BOOST_TEST(caught_as_error(sqlpool::commit_unknown_error("08006", "m", "COMMIT")));
}

BOOST_AUTO_TEST_CASE(start_error_names_the_component_and_why) {
    const sqlpool::start_error e("db", "schema of 'app.db' lacks table 'users'");
    BOOST_TEST(e.component() == "db");
    BOOST_TEST(std::string(e.what()) ==
               "component 'db' failed to start: schema of 'app.db' lacks table 'users'");
}

BOOST_AUTO_TEST_CASE(busy_error_is_caught_as_sqlite_error_and_as_error) {
    try {
        throw sqlpool::busy_error(sqlpool::result_code::busy_snapshot, "database is locked", "COMMIT");
    } catch (const sqlpool::sqlite_error& e) {
        BOOST_TEST(e.code() == sqlpool::result_code::busy);
        BOOST_TEST(e.extended_code() == sqlpool::result_code::busy_snapshot);
        BOOST_TEST(e.sql() == "COMMIT");
    }
    bool caught = false;
    try {
        throw sqlpool::busy_error(sqlpool::result_code::locked, "database table is locked", "");
    } catch (const sqlpool::error& e) {
        caught = dynamic_cast<const sqlpool::busy_error*>(&e) != nullptr;
    }
    BOOST_TEST(caught);
}

BOOST_AUTO_TEST_CASE(misuse_and_transaction_errors_are_not_sqlite_errors) {
    const sqlpool::misuse_error misuse("wrong");
    const sqlpool::transaction_error tx("order");
    const sqlpool::config_error config({"bad"});
    BOOST_TEST(dynamic_cast<const sqlpool::sqlite_error*>(static_cast<const sqlpool::error*>(&misuse)) ==
               nullptr);
    BOOST_TEST(dynamic_cast<const sqlpool::sqlite_error*>(static_cast<const sqlpool::error*>(&tx)) ==
               nullptr);
    BOOST_TEST(dynamic_cast<const sqlpool::sqlite_error*>(static_cast<const sqlpool::error*>(&config)) ==
               nullptr);
    BOOST_TEST(std::string(misuse.what()) == "wrong");
    BOOST_TEST(std::string(tx.what()) == "order");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(contents)

BOOST_AUTO_TEST_CASE(sqlite_error_carries_codes_message_and_sql) {
    const sqlpool::sqlite_error e(sqlpool::result_code::constraint_unique, "UNIQUE constraint failed: t.v",
                                  "INSERT INTO t VALUES(?)");
    BOOST_TEST(e.code() == sqlpool::result_code::constraint);
    BOOST_TEST(e.extended_code() == sqlpool::result_code::constraint_unique);
    BOOST_TEST(e.sqlite_message() == "UNIQUE constraint failed: t.v");
    BOOST_TEST(e.sql() == "INSERT INTO t VALUES(?)");
    const std::string what = e.what();
    BOOST_TEST(contains(what, std::to_string(sqlpool::result_code::constraint_unique)), what);
    BOOST_TEST(contains(what, "constraint failed"), what); // SQLite's text for the code
    BOOST_TEST(contains(what, "UNIQUE constraint failed: t.v"), what);
    BOOST_TEST(contains(what, "INSERT INTO t VALUES(?)"), what);
}

BOOST_AUTO_TEST_CASE(code_is_the_primary_part_of_the_extended_code) {
    const std::vector<std::pair<int, int>> codes = {
        {sqlpool::result_code::busy_snapshot, sqlpool::result_code::busy},
        {sqlpool::result_code::busy_timeout, sqlpool::result_code::busy},
        {sqlpool::result_code::ioerr_fsync, sqlpool::result_code::ioerr},
        {sqlpool::result_code::cantopen_symlink, sqlpool::result_code::cantopen},
        {sqlpool::result_code::constraint_foreignkey, sqlpool::result_code::constraint},
        {sqlpool::result_code::readonly_dbmoved, sqlpool::result_code::readonly},
        {sqlpool::result_code::notadb, sqlpool::result_code::notadb},
    };
    for (const auto& [extended, primary] : codes) {
        const sqlpool::sqlite_error e(extended, "m", "");
        BOOST_TEST(e.code() == primary, "extended code " << extended);
        BOOST_TEST(e.extended_code() == extended);
    }
}

BOOST_AUTO_TEST_CASE(an_error_without_sql_has_no_sql_part) {
    const sqlpool::sqlite_error e(sqlpool::result_code::cantopen, "unable to open database file", "");
    const std::string what = e.what();
    BOOST_TEST(!contains(what, "[sql:"), what);
    BOOST_TEST(contains(what, "unable to open database file"), what);
    BOOST_TEST(e.sql().empty());
}

BOOST_AUTO_TEST_CASE(copies_keep_every_field) {
    const sqlpool::busy_error original(sqlpool::result_code::busy_timeout, "database is locked",
                                       "BEGIN IMMEDIATE");
    const sqlpool::busy_error copy = original; // NOLINT(performance-unnecessary-copy-initialization)
    BOOST_TEST(copy.extended_code() == original.extended_code());
    BOOST_TEST(copy.sqlite_message() == original.sqlite_message());
    BOOST_TEST(copy.sql() == original.sql());
    BOOST_TEST(std::string(copy.what()) == original.what());
}

BOOST_AUTO_TEST_CASE(config_error_lists_every_problem) {
    const sqlpool::config_error e(
        {"min_connections > max_connections", "busy_timeout is negative", "database path is empty"});
    BOOST_TEST(e.problems().size() == 3u);
    BOOST_TEST(e.problems()[1] == "busy_timeout is negative");
    BOOST_TEST(std::string(e.what()) ==
               "invalid configuration: min_connections > max_connections; busy_timeout "
               "is negative; database path is empty");
    const sqlpool::config_error one({"only this"});
    BOOST_TEST(std::string(one.what()) == "invalid configuration: only this");
    BOOST_TEST(one.problems() == std::vector<std::string>{"only this"});
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(from_sqlite)

BOOST_AUTO_TEST_CASE(a_failing_statement_puts_its_sql_into_what) {
    sqlpool::connection conn{":memory:"};
    conn.exec("CREATE TABLE t(v INTEGER NOT NULL)");
    try {
        conn.exec("INSERT INTO t VALUES(NULL)");
        BOOST_FAIL("the NOT NULL constraint did not fire");
    } catch (const sqlpool::busy_error&) {
        BOOST_FAIL("a constraint violation is not a busy_error");
    } catch (const sqlpool::sqlite_error& e) {
        BOOST_TEST(e.code() == sqlpool::result_code::constraint);
        BOOST_TEST(e.extended_code() == sqlpool::result_code::constraint_notnull);
        BOOST_TEST(contains(e.what(), "INSERT INTO t VALUES(NULL)"), e.what());
        BOOST_TEST(contains(e.sqlite_message(), "NOT NULL"), e.sqlite_message());
    }
    try {
        (void)conn.query_value<std::string>("SELECT v FROM t WHERE v = ?", 1);
        BOOST_FAIL("no row, no error");
    } catch (const sqlpool::misuse_error&) {
        BOOST_FAIL("an empty result is not a misuse");
    } catch (const sqlpool::error& e) {
        BOOST_TEST(contains(e.what(), "SELECT v FROM t WHERE v = ?"), e.what());
    }
}

BOOST_AUTO_TEST_CASE(a_misuse_names_the_sql) {
    sqlpool::connection conn{":memory:"};
    try {
        conn.exec("SELECT ?, ?", 1);
        BOOST_FAIL("a missing argument went unnoticed");
    } catch (const sqlpool::misuse_error& e) {
        BOOST_TEST(contains(e.what(), "SELECT ?, ?"), e.what());
    }
}

BOOST_AUTO_TEST_SUITE_END()
