// transaction and savepoint on PostgreSQL: commit, rollback, nesting through savepoints, and
// never an acknowledged COMMIT that the server rolled back.
#define BOOST_TEST_MODULE pg_transaction
#include <boost/test/unit_test.hpp>

#include <cstdint>
#include <string>

#include "pg_support.hpp"

import sqlpool.postgres;

namespace pg = sqlpool::postgres;

namespace {
struct table {
    pg::connection conn{pg_test::primary()};
    table() { conn.exec("DROP TABLE IF EXISTS tx_rows; CREATE TABLE tx_rows (id int PRIMARY KEY)"); }
    std::int64_t count() { return conn.query_value<std::int64_t>("SELECT count(*) FROM tx_rows"); }
};
} // namespace

BOOST_FIXTURE_TEST_CASE(commit_keeps_rollback_and_destructor_undo, table) {
    {
        auto tx = conn.begin();
        conn.exec("INSERT INTO tx_rows VALUES ($1)", 1);
        tx.commit();
        BOOST_TEST(!tx.active());
    }
    {
        auto tx = conn.begin(pg::isolation_level::serializable);
        conn.exec("INSERT INTO tx_rows VALUES ($1)", 2);
        tx.rollback();
    }
    {
        auto tx = conn.begin(pg::isolation_level::repeatable_read);
        conn.exec("INSERT INTO tx_rows VALUES ($1)", 3);
    }
    BOOST_TEST(count() == 1);
    BOOST_TEST(conn.query_value<std::string>("SHOW transaction_isolation") == "read committed");
}

BOOST_FIXTURE_TEST_CASE(the_level_and_access_mode_are_the_ones_asked_for, table) {
    auto tx = conn.begin(pg::isolation_level::serializable, pg::access_mode::read_only);
    BOOST_TEST(conn.query_value<std::string>("SHOW transaction_isolation") == "serializable");
    BOOST_TEST(conn.query_value<std::string>("SHOW transaction_read_only") == "on");
    try {
        conn.exec("INSERT INTO tx_rows VALUES ($1)", 9);
        BOOST_FAIL("a write in a read-only transaction");
    } catch (const sqlpool::server_error& e) {
        BOOST_TEST(e.sqlstate() == "25006");
    }
}

BOOST_FIXTURE_TEST_CASE(commit_after_a_failed_statement_is_not_acknowledged, table) {
    auto tx = conn.begin();
    conn.exec("INSERT INTO tx_rows VALUES ($1)", 1);
    try {
        conn.exec("INSERT INTO tx_rows VALUES ($1)", 1); // duplicate key: swallowed by a careless caller
    } catch (const sqlpool::server_error&) {
    }
    BOOST_CHECK_THROW(tx.commit(), sqlpool::transaction_error);
    BOOST_TEST(count() == 0);
}

BOOST_FIXTURE_TEST_CASE(savepoints_nest_and_undo_only_their_part, table) {
    auto tx = conn.begin();
    conn.exec("INSERT INTO tx_rows VALUES ($1)", 1);
    {
        auto outer = tx.savepoint();
        conn.exec("INSERT INTO tx_rows VALUES ($1)", 2);
        {
            auto inner = tx.savepoint();
            BOOST_CHECK_THROW(conn.exec("INSERT INTO tx_rows VALUES ($1)", 1), sqlpool::server_error);
            BOOST_CHECK_THROW(outer.release(), sqlpool::transaction_error); // not the innermost
            inner.rollback(); // the failed statement is undone; the transaction goes on
        }
        outer.release();
    }
    {
        auto undone = tx.savepoint();
        conn.exec("INSERT INTO tx_rows VALUES ($1)", 3);
    } // rolled back by its destructor
    tx.commit();
    BOOST_TEST(count() == 2);
}

BOOST_FIXTURE_TEST_CASE(a_second_begin_on_the_same_session_is_refused, table) {
    auto tx = conn.begin();
    BOOST_CHECK_THROW((void)conn.begin(), sqlpool::transaction_error);
    tx.commit();
    BOOST_CHECK_THROW(tx.commit(), sqlpool::transaction_error);
}
