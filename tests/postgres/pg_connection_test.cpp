// connection: one libpq session against the fixture's primary: typed statements, the prepared
// statement cache, SQLSTATE errors, cancel and deadlines, and the reset a pool runs on return.
#define BOOST_TEST_MODULE pg_connection
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <stop_token>
#include <string>
#include <thread>
#include <tuple>
#include <utility>

#include <libpq-fe.h>

#include "pg_support.hpp"

import sqlpool.postgres;

namespace pg = sqlpool::postgres;
using namespace std::chrono_literals;

namespace {
pg::connection connect(std::size_t cache = 64) {
    pg::connection_options options;
    options.conninfo = pg_test::primary();
    options.statement_cache_size = cache;
    return pg::connection(std::move(options));
}
} // namespace

BOOST_AUTO_TEST_CASE(typed_values_round_trip_through_the_server) {
    auto conn = connect();
    const auto row = conn.query_one<std::int64_t, double, bool, std::string, std::optional<int>, pg::bytes>(
        "SELECT $1::bigint, $2::float8, $3::bool, $4::text, $5::int, $6::bytea", std::int64_t{1} << 40, 2.5,
        true, std::string("naïve 'quote'"), std::nullopt, pg::bytes{std::byte{0}, std::byte{0x7f}});
    BOOST_REQUIRE(row.has_value());
    BOOST_TEST(std::get<0>(*row) == std::int64_t{1} << 40);
    BOOST_TEST(std::get<1>(*row) == 2.5);
    BOOST_TEST(std::get<2>(*row));
    BOOST_TEST(std::get<3>(*row) == "naïve 'quote'");
    BOOST_TEST(!std::get<4>(*row).has_value());
    BOOST_TEST((std::get<5>(*row) == pg::bytes{std::byte{0}, std::byte{0x7f}}));
    BOOST_TEST(conn.query_value<int>("SELECT 41 + 1") == 42);
    BOOST_TEST(!conn.query_one<int>("SELECT 1 WHERE false").has_value());
    BOOST_CHECK_THROW((void)conn.query_value<int>("SELECT 1 WHERE false"), sqlpool::misuse_error);
}

BOOST_AUTO_TEST_CASE(exec_counts_rows_and_runs_several_statements_without_parameters) {
    auto conn = connect();
    conn.exec("DROP TABLE IF EXISTS conn_rows; CREATE TABLE conn_rows (id int PRIMARY KEY, v text)");
    BOOST_TEST(conn.exec("INSERT INTO conn_rows VALUES ($1, $2), ($3, $4)", 1, "a", 2, "b") == 2);
    BOOST_TEST(conn.exec("UPDATE conn_rows SET v = $1", "c") == 2);
    const auto rows = conn.query<int, std::string>("SELECT id, v FROM conn_rows ORDER BY id");
    BOOST_TEST(rows.size() == 2u);
    BOOST_TEST(std::get<1>(rows[1]) == "c");
}

BOOST_AUTO_TEST_CASE(statements_with_parameters_are_prepared_once_and_the_cache_is_bounded) {
    auto conn = connect(2);
    for (int i = 0; i < 5; ++i) BOOST_TEST(conn.query_value<int>("SELECT $1::int", i) == i);
    BOOST_TEST(conn.prepared_statements() == 1u);
    (void)conn.query_value<int>("SELECT $1::int + 1", 1);
    (void)conn.query_value<int>("SELECT $1::int + 2", 1);
    BOOST_TEST(conn.prepared_statements() == 2u); // the oldest went
    BOOST_TEST(conn.query_value<std::int64_t>("SELECT count(*) FROM pg_prepared_statements") == 2);
    auto uncached = connect(0);
    BOOST_TEST(uncached.query_value<int>("SELECT $1::int", 3) == 3);
    BOOST_TEST(uncached.prepared_statements() == 0u);
}

BOOST_AUTO_TEST_CASE(a_borrowers_deallocate_all_does_not_break_the_cache) {
    auto conn = connect();
    BOOST_TEST(conn.query_value<int>("SELECT $1::int", 1) == 1);
    conn.exec("DEALLOCATE ALL");
    BOOST_TEST(conn.prepared_statements() == 0u);
    BOOST_TEST(conn.query_value<int>("SELECT $1::int", 2) == 2);
}

BOOST_AUTO_TEST_CASE(errors_carry_their_sqlstate_and_the_session_goes_on) {
    auto conn = connect();
    try {
        conn.exec("SELECT * FROM no_such_table_here");
        BOOST_FAIL("no error");
    } catch (const sqlpool::server_error& e) {
        BOOST_TEST(e.sqlstate() == "42P01");
        BOOST_TEST(e.sql() == "SELECT * FROM no_such_table_here");
    }
    BOOST_TEST(conn.broken_code() == 0);
    BOOST_TEST(conn.query_value<int>("SELECT 1") == 1);
    BOOST_CHECK_THROW((void)conn.query_value<int>("SELECT $1::int", "x"), sqlpool::server_error); // 22P02
}

BOOST_AUTO_TEST_CASE(a_bad_server_is_a_connection_lost_error_with_libpqs_message) {
    try {
        pg::connection conn("host=127.0.0.1 port=1 connect_timeout=2 sslmode=disable gssencmode=disable");
        BOOST_FAIL("connected to port 1");
    } catch (const sqlpool::connection_lost_error& e) {
        BOOST_TEST(e.sqlstate() == "08001");
        BOOST_TEST(std::string(e.what()).find("could not connect") != std::string::npos);
    }
}

BOOST_AUTO_TEST_CASE(interrupt_from_another_thread_cancels_the_statement) {
    auto conn = connect();
    std::jthread canceller([&] {
        std::this_thread::sleep_for(200ms);
        conn.interrupt();
    });
    try {
        conn.exec("SELECT pg_sleep(30)");
        BOOST_FAIL("not cancelled");
    } catch (const sqlpool::server_error& e) {
        BOOST_TEST(e.sqlstate() == "57014");
    }
    BOOST_TEST(conn.query_value<int>("SELECT 1") == 1);
}

BOOST_AUTO_TEST_CASE(a_deadline_cancels_a_running_statement_and_refuses_the_next) {
    auto conn = connect();
    conn.set_deadline(sqlpool::deadline{300ms});
    BOOST_CHECK_THROW(conn.exec("SELECT pg_sleep(30)"), sqlpool::timeout_error);
    BOOST_CHECK_THROW(conn.exec("SELECT 1"), sqlpool::timeout_error); // passed: nothing more runs
    std::stop_source stop;
    conn.set_deadline(sqlpool::deadline{stop.get_token()});
    std::jthread stopper([&] {
        std::this_thread::sleep_for(200ms);
        stop.request_stop();
    });
    BOOST_CHECK_THROW(conn.exec("SELECT pg_sleep(30)"), sqlpool::cancelled_error);
    BOOST_TEST((conn.reset_for_reuse() != sqlpool::reset_verdict::retire));
    BOOST_TEST(conn.query_value<int>("SELECT 2") == 2); // the reset cleared the deadline
}

BOOST_AUTO_TEST_CASE(the_pools_board_order_ends_a_statement_as_pool_closed) {
    auto conn = connect();
    sqlpool::session_board board;
    conn.attach(board);
    std::jthread closer([&] {
        while (!board.interrupt()) std::this_thread::sleep_for(10ms); // shown once it ran a tick
    });
    BOOST_CHECK_THROW(conn.exec("SELECT pg_sleep(30)"), sqlpool::pool_closed_error);
    BOOST_TEST(board.shown().empty());
}

BOOST_AUTO_TEST_CASE(reset_rolls_back_and_discards_only_what_changed) {
    auto conn = connect();
    BOOST_TEST((conn.reset_for_reuse() == sqlpool::reset_verdict::clean)); // nothing ran
    (void)conn.query_value<int>("SELECT $1::int", 1);
    BOOST_TEST((conn.reset_for_reuse() == sqlpool::reset_verdict::clean));
    BOOST_TEST(conn.prepared_statements() == 1u); // kept: nothing was changed
    conn.exec("BEGIN");
    conn.exec("CREATE TEMP TABLE reset_tmp (a int)");
    BOOST_TEST((conn.reset_for_reuse() == sqlpool::reset_verdict::restored));
    BOOST_TEST(PQtransactionStatus(conn.native()) == PQTRANS_IDLE);
    conn.exec("SET search_path = nowhere");
    conn.exec("CREATE TEMP TABLE reset_tmp2 (a int)");
    BOOST_TEST((conn.reset_for_reuse() == sqlpool::reset_verdict::restored));
    BOOST_TEST(conn.query_value<std::string>("SHOW search_path") == "\"$user\", public");
    BOOST_TEST(conn.query_value<std::int64_t>("SELECT count(*) FROM pg_class WHERE relname = 'reset_tmp2'") ==
               0);
    BOOST_TEST(conn.prepared_statements() == 2u); // DISCARD ALL dropped the first; these two are new
}

BOOST_AUTO_TEST_CASE(a_failed_transaction_is_rolled_back_on_reset) {
    auto conn = connect();
    conn.exec("BEGIN");
    BOOST_CHECK_THROW(conn.exec("SELECT 1/0"), sqlpool::server_error);
    BOOST_TEST(PQtransactionStatus(conn.native()) == PQTRANS_INERROR);
    BOOST_TEST(!conn.ping()); // not idle: not handed out as it is
    BOOST_TEST((conn.reset_for_reuse() == sqlpool::reset_verdict::restored));
    BOOST_TEST(conn.ping());
}

BOOST_AUTO_TEST_CASE(discard_always_discards_after_any_use) {
    pg::connection_options options;
    options.conninfo = pg_test::primary();
    options.reset = pg::reset_mode::discard_always;
    pg::connection conn(std::move(options));
    (void)conn.query_value<int>("SELECT $1::int", 1); // plain: kept under discard_when_changed
    BOOST_TEST((conn.reset_for_reuse() == sqlpool::reset_verdict::restored));
    BOOST_TEST(conn.prepared_statements() == 0u);
}

BOOST_AUTO_TEST_CASE(a_terminated_backend_breaks_the_session_and_reset_retires_it) {
    auto conn = connect();
    auto killer = connect();
    BOOST_TEST(killer.query_value<bool>("SELECT pg_terminate_backend($1)", conn.backend_pid()));
    BOOST_CHECK_THROW((void)conn.query_value<int>("SELECT 1"), sqlpool::connection_lost_error);
    BOOST_TEST(conn.broken_code() != 0);
    BOOST_TEST((pg::connection::classify(conn.broken_code()) == sqlpool::error_action::retire));
    BOOST_TEST((conn.reset_for_reuse() == sqlpool::reset_verdict::retire));
    BOOST_TEST(!conn.ping());
}
