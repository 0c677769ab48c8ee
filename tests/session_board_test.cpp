// session_board: what a pool and a session share across threads — the session shows a statement
// once it has run a while (the progress handler) and takes it off when it ends; an interrupt order
// reaches only a statement shown, which fails with pool_closed_error, and the connection goes on.
#define BOOST_TEST_MODULE session_board
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <thread>

#include "support/pool_helpers.hpp"

import sqlpool;

using namespace std::chrono_literals;
using sqlpool_test::eventually;

namespace {

constexpr const char* endless_query = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE "
                                      "x < 5000000000) SELECT max(x) FROM c";

} // namespace

BOOST_AUTO_TEST_CASE(an_order_reaches_only_a_statement_shown_and_ends_with_it) {
    sqlpool::session_board board;
    BOOST_TEST(board.shown().empty());
    BOOST_TEST(!board.interrupt()); // nothing runs: nothing to interrupt
    BOOST_TEST(!board.interrupting());
    board.show("SELECT 1");
    BOOST_TEST(board.shown() == "SELECT 1");
    BOOST_TEST(board.interrupt());
    BOOST_TEST(board.interrupting());
    board.show(""); // the statement ended: the order with it
    BOOST_TEST(!board.interrupting());
    BOOST_TEST(board.shown().empty());
}

BOOST_AUTO_TEST_CASE(a_short_statement_is_never_shown) {
    sqlpool::session_board board;
    sqlpool::connection conn(":memory:");
    conn.attach(board);
    BOOST_TEST(conn.query_value<std::int64_t>("SELECT 40 + 2") == 42);
    BOOST_TEST(board.shown().empty());
}

BOOST_AUTO_TEST_CASE(a_long_statement_is_shown_interrupted_on_order_and_the_connection_goes_on) {
    sqlpool::session_board board;
    sqlpool::connection conn(":memory:");
    conn.attach(board);
    std::atomic<int> outcome{0}; // 1: pool_closed_error, 2: anything else
    std::thread runner([&] {
        try {
            (void)conn.query_value<std::int64_t>(endless_query);
            outcome = 2;
        } catch (const sqlpool::pool_closed_error& e) {
            outcome = std::string(e.what()).find("WITH RECURSIVE") != std::string::npos ? 1 : 2;
        } catch (...) {
            outcome = 2;
        }
    });
    const bool shown =
        eventually([&] { return board.shown().find("WITH RECURSIVE c(x)") != std::string::npos; });
    const bool ordered = board.interrupt();
    if (!ordered) conn.interrupt(); // never leave the runner going: the test fails below instead
    runner.join();
    BOOST_TEST(shown);
    BOOST_TEST(ordered);
    BOOST_TEST(outcome == 1);
    BOOST_TEST(board.shown().empty());
    BOOST_TEST(!board.interrupting());
    BOOST_TEST(conn.query_value<std::int64_t>("SELECT 41 + 1") == 42); // not interrupted again
}
