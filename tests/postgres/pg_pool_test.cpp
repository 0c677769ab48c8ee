// pool and runner on PostgreSQL: every stock policy in a real pool against the fixture's primary,
// with real threads; write()/read() under SERIALIZABLE conflicts; what one borrower leaves behind
// never reaching the next; deadlines and close() reaching a running statement.
#define BOOST_TEST_MODULE pg_pool
#include <boost/mpl/list.hpp>
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include <libpq-fe.h>

#include "pg_support.hpp"

import sqlpool.postgres;

namespace pg = sqlpool::postgres;
using namespace std::chrono_literals;

namespace {

sqlpool::pool_config config(std::size_t max = 4) {
    sqlpool::pool_config c;
    c.database = pg_test::primary();
    c.min_connections = 1;
    c.max_connections = max;
    c.acquire_timeout = 20s;
    c.transaction_timeout = 60s;
    return c;
}

void make_table(const std::string& name) {
    pg::connection conn(pg_test::primary());
    conn.exec("DROP TABLE IF EXISTS " + name + "; CREATE TABLE " + name +
              " (id int PRIMARY KEY, by_thread int)");
}

std::int64_t count_rows(const std::string& name) {
    pg::connection conn(pg_test::primary());
    return conn.query_value<std::int64_t>("SELECT count(*) FROM " + name);
}

// Each a pool type: every stock locking, queue, health, recycling and isolation policy at least once.
using pools = boost::mpl::list<
    pg::pool, pg::basic_pool<sqlpool::locking::spin, sqlpool::health::no_check>,
    pg::basic_pool<sqlpool::locking::std_mutex, sqlpool::health::ping, sqlpool::recycling::max_uses<3>,
                   pg::isolation::repeatable_read, sqlpool::queue::fifo>,
    pg::basic_pool<sqlpool::locking::spin, sqlpool::health::all_of<sqlpool::health::ping>,
                   sqlpool::recycling::any_of<sqlpool::recycling::max_age, sqlpool::recycling::idle_timeout>,
                   pg::isolation::serializable, sqlpool::queue::round_robin>,
    pg::basic_pool<sqlpool::locking::std_mutex, sqlpool::health::ping, sqlpool::recycling::never,
                   pg::isolation::read_committed, sqlpool::queue::barging, sqlpool::coarse_steady_clock,
                   pg::basic_source<pg::reset_mode::discard_always>>>;

} // namespace

BOOST_AUTO_TEST_CASE_TEMPLATE(every_stock_policy_writes_every_row_from_eight_threads, Pool, pools) {
    make_table("pool_rows");
    Pool pool(config());
    constexpr int threads = 8;
    constexpr int per_thread = 40;
    std::vector<std::jthread> workers;
    for (int t = 0; t < threads; ++t)
        workers.emplace_back([&, t] {
            for (int i = 0; i < per_thread; ++i)
                pg::write(pool, [&](pg::connection& conn) {
                    conn.exec("INSERT INTO pool_rows VALUES ($1, $2)", t * per_thread + i, t);
                });
        });
    workers.clear();
    BOOST_TEST(count_rows("pool_rows") == threads * per_thread);
    const auto rows = pg::read(pool, [](pg::connection& conn) {
        return conn.query_value<std::int64_t>("SELECT count(DISTINCT by_thread) FROM pool_rows");
    });
    BOOST_TEST(rows == threads);
    const auto stats = pool.stats();
    BOOST_TEST(stats.total <= 4u);
    BOOST_TEST(stats.acquired >= static_cast<std::uint64_t>(threads * per_thread));
}

// Every thread adds 1 to one counter, read-modify-write, under SERIALIZABLE: conflicts (40001)
// roll back and run again; the counter ends at the number of calls, no more, no less.
BOOST_AUTO_TEST_CASE(a_serialization_storm_loses_nothing_and_doubles_nothing) {
    pg::basic_pool<sqlpool::locking::std_mutex, sqlpool::health::ping, sqlpool::recycling::standard,
                   pg::isolation::serializable>
        pool(config(8));
    pg::write(pool, [](pg::connection& conn) {
        conn.exec("DROP TABLE IF EXISTS storm; CREATE TABLE storm (id int PRIMARY KEY, n int); INSERT INTO "
                  "storm VALUES (1, 0)");
    });
    constexpr int threads = 8;
    constexpr int per_thread = 25;
    std::atomic<int> attempts{0};
    std::vector<std::jthread> workers;
    for (int t = 0; t < threads; ++t)
        workers.emplace_back([&] {
            for (int i = 0; i < per_thread; ++i)
                pg::write(pool, [&](pg::connection& conn) {
                    attempts.fetch_add(1);
                    const int n = conn.query_value<int>("SELECT n FROM storm WHERE id = $1", 1);
                    conn.exec("UPDATE storm SET n = $1 WHERE id = $2", n + 1, 1);
                });
        });
    workers.clear();
    const int n =
        pg::read(pool, [](pg::connection& conn) { return conn.query_value<int>("SELECT n FROM storm"); });
    BOOST_TEST(n == threads * per_thread);
    BOOST_TEST_MESSAGE("calls " << threads * per_thread << ", attempts " << attempts.load());
    BOOST_TEST(attempts.load() > threads * per_thread); // conflicts happened, and were retried
}

BOOST_AUTO_TEST_CASE(read_runs_read_only_and_a_write_in_it_fails_once) {
    pg::pool pool(config());
    make_table("pool_ro");
    int calls = 0;
    try {
        pg::read(pool, [&](pg::connection& conn) {
            ++calls;
            conn.exec("INSERT INTO pool_ro VALUES ($1, $2)", 1, 1);
        });
        BOOST_FAIL("a write in read()");
    } catch (const sqlpool::server_error& e) {
        BOOST_TEST(e.sqlstate() == "25006");
    }
    BOOST_TEST(calls == 1);
    BOOST_TEST(count_rows("pool_ro") == 0);
}

// One connection, two borrowers: what the first sets, creates, prepares or locks is gone for the second.
BOOST_AUTO_TEST_CASE(a_borrowers_session_state_never_reaches_the_next) {
    pg::pool pool(config(1));
    int first_pid = 0;
    {
        auto lease = pool.acquire();
        first_pid = lease->backend_pid();
        lease->exec("SET search_path = pg_catalog");
        lease->exec("CREATE TEMP TABLE leftover (a int)");
        lease->exec("PREPARE mine AS SELECT 1");
        lease->exec("SELECT pg_advisory_lock(42)");
        lease->exec("BEGIN");
        lease->exec("INSERT INTO leftover VALUES (1)");
    }
    auto lease = pool.acquire();
    BOOST_TEST(lease->backend_pid() == first_pid); // the same session, cleaned
    BOOST_TEST(lease->query_value<std::string>("SHOW search_path") == "\"$user\", public");
    BOOST_TEST(lease->query_value<std::int64_t>("SELECT count(*) FROM pg_class WHERE relname = 'leftover'") ==
               0);
    BOOST_TEST(lease->query_value<std::int64_t>(
                   "SELECT count(*) FROM pg_prepared_statements WHERE name = 'mine'") == 0);
    BOOST_TEST(lease->query_value<std::int64_t>(
                   "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()") ==
               0);
    BOOST_TEST(PQtransactionStatus(lease->native()) == PQTRANS_IDLE);
    BOOST_TEST(pool.stats().resets >= 1u);
}

BOOST_AUTO_TEST_CASE(a_killed_backend_is_retired_and_the_runner_goes_on) {
    pg::pool pool(config(2));
    make_table("pool_kill");
    pg::connection killer(pg_test::primary());
    int attempts = 0;
    pg::write(pool, [&](pg::connection& conn) {
        if (++attempts == 1)
            (void)killer.query_value<bool>("SELECT pg_terminate_backend($1)", conn.backend_pid());
        conn.exec("INSERT INTO pool_kill VALUES ($1, $2)", 1, 0);
    });
    BOOST_TEST(attempts == 2);
    BOOST_TEST(count_rows("pool_kill") == 1);
    BOOST_TEST(pool.stats().closed.broken == 1u);
}

BOOST_AUTO_TEST_CASE(a_calls_deadline_cancels_its_statement) {
    pg::pool pool(config());
    const auto started = std::chrono::steady_clock::now();
    BOOST_CHECK_THROW(
        pg::write(
            pool, [](pg::connection& conn) { conn.exec("SELECT pg_sleep(30)"); }, sqlpool::deadline{300ms}),
        sqlpool::timeout_error);
    BOOST_TEST((std::chrono::steady_clock::now() - started < 20s)); // cancelled, not waited out
    BOOST_TEST(pg::read(pool, [](pg::connection& conn) { return conn.query_value<int>("SELECT 7"); }) == 7);
}

BOOST_AUTO_TEST_CASE(close_interrupts_a_statement_that_outlives_close_timeout) {
    auto pool = std::make_unique<pg::pool>(config());
    std::atomic<bool> running{false};
    std::jthread sleeper([&] {
        try {
            auto lease = pool->acquire();
            running = true;
            lease->exec("SELECT pg_sleep(30)");
        } catch (const sqlpool::pool_closed_error&) {
            running = false;
        }
    });
    while (!running) std::this_thread::sleep_for(10ms);
    std::this_thread::sleep_for(200ms);
    (void)pool->close(300ms);
    sleeper.join();
    BOOST_TEST(!running.load());
}

BOOST_AUTO_TEST_CASE(a_config_the_source_cannot_serve_is_refused) {
    auto c = config();
    c.database = "host=db nonsense_keyword=1";
    BOOST_CHECK_THROW(pg::pool{c}, sqlpool::config_error);
    c = config();
    c.on_connect = [](sqlpool::connection&) {};
    BOOST_CHECK_THROW(pg::pool{c}, sqlpool::config_error);
}
