// deadline: one limit for a whole call. The value itself, then what it bounds in a real pool on a
// real file with real threads: the wait for a connection, SQLite's waits for locks, and a
// statement that is still running (interrupted, its connection reset before anyone reuses it).
#define BOOST_TEST_MODULE deadline
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <stop_token>
#include <string>
#include <thread>

#include "support/pool_helpers.hpp"

import sqlpool;

using namespace std::chrono_literals;
using sqlpool_test::eventually;

namespace {

// About a minute of work for SQLite (a few million rows a second): a query that only an
// interrupt ends early.
constexpr const char* minute_query = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x "
                                     "< 200000000) SELECT max(x) FROM c";

sqlpool::pool_config one_connection(const std::string& path) {
    return sqlpool::pool_config{.database = path, .max_connections = 1};
}

void make_items(sqlpool::pool& pool) {
    pool.write(
        [](sqlpool::connection& c) { c.exec("CREATE TABLE IF NOT EXISTS items(id INTEGER PRIMARY KEY)"); });
}

std::int64_t count_items(sqlpool::pool& pool) {
    return pool.read(
        [](sqlpool::connection& c) { return c.query_value<std::int64_t>("SELECT count(*) FROM items"); });
}

double seconds_since(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

} // namespace

BOOST_AUTO_TEST_SUITE(the_value)

BOOST_AUTO_TEST_CASE(a_default_deadline_never_passes) {
    const sqlpool::deadline never;
    BOOST_TEST(!never.bounded());
    BOOST_TEST(!never.passed());
    BOOST_TEST(!never.stop_requested());
}

BOOST_AUTO_TEST_CASE(a_duration_counts_from_now_and_saturates) {
    BOOST_TEST(sqlpool::deadline{0ms}.passed());
    BOOST_TEST(sqlpool::deadline{-5s}.passed());
    const sqlpool::deadline later{1h};
    BOOST_TEST(later.bounded());
    BOOST_TEST(!later.passed());
    BOOST_TEST(later.passed(later.at()));
    const sqlpool::deadline far{std::chrono::hours::max()};
    BOOST_TEST(!far.passed());
    BOOST_TEST(far.at().time_since_epoch().count() > later.at().time_since_epoch().count());
}

BOOST_AUTO_TEST_CASE(a_stop_token_passes_it_whatever_the_time) {
    std::stop_source source;
    const sqlpool::deadline limit{1h, source.get_token()};
    BOOST_TEST(!limit.passed());
    const sqlpool::deadline sooner = limit.capped_at(std::chrono::steady_clock::now() + 2h);
    BOOST_TEST(sooner.at().time_since_epoch().count() == limit.at().time_since_epoch().count());
    source.request_stop();
    BOOST_TEST(limit.passed());
    BOOST_TEST(sooner.stop_requested());
    BOOST_TEST(sqlpool::deadline{std::stop_source{}.get_token()}.bounded());
    BOOST_TEST(!sqlpool::deadline{std::stop_token{}}.bounded()); // no source: it cannot stop
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(in_a_pool, sqlpool_test::pool_fixture)

// The case: a 60-second query called with a 1-second deadline.
BOOST_AUTO_TEST_CASE(a_minute_long_query_with_a_one_second_deadline_is_interrupted_and_its_connection_reset) {
    sqlpool::pool pool(one_connection(path));
    const auto start = std::chrono::steady_clock::now();
    BOOST_CHECK_THROW(
        pool.read(sqlpool::deadline{1s},
                  [](sqlpool::connection& c) { return c.query_value<std::int64_t>(minute_query); }),
        sqlpool::timeout_error);
    BOOST_TEST_MESSAGE("interrupted after " << seconds_since(start) << " s");
    // The one connection comes back clean: no transaction, the configured busy timeout.
    auto lease = pool.acquire();
    BOOST_TEST(!lease->in_transaction());
    BOOST_TEST(lease->query_value<std::int64_t>("PRAGMA busy_timeout") == pool.config().busy_timeout.count());
    BOOST_TEST(lease->query_value<std::int64_t>("SELECT 41 + 1") == 42);
    BOOST_TEST(pool.stats().closed.total() == 0u); // reset, not replaced
}

// busy_timeout is 20 s; the deadline 300 ms. Without a busy handler that stops at the deadline,
// the writer would wait until the holder let go and then succeed.
BOOST_AUTO_TEST_CASE(a_wait_for_a_lock_ends_at_the_deadline_not_at_busy_timeout) {
    auto config = one_connection(path);
    config.max_connections = 2;
    config.busy_timeout = 20s;
    config.acquire_timeout = 30s;
    sqlpool::pool pool(config);
    make_items(pool);
    auto holder = pool.acquire();
    auto lock = holder->begin(sqlpool::isolation_level::immediate);
    std::atomic<bool> holding{true};
    std::atomic<int> outcome{0}; // 1: timeout_error while the lock was held, 2: anything else
    std::thread writer([&] {
        try {
            pool.write(sqlpool::deadline{300ms},
                       [](sqlpool::connection& c) { c.exec("INSERT INTO items DEFAULT VALUES"); });
            outcome = 2;
        } catch (const sqlpool::timeout_error&) {
            outcome = holding.load() ? 1 : 2;
        } catch (...) {
            outcome = 2;
        }
    });
    (void)eventually([&] { return outcome.load() != 0; }, 15s);
    holding = false;
    lock.rollback();
    writer.join();
    BOOST_TEST(outcome.load() == 1);
    BOOST_TEST(count_items(pool) == 0);
}

BOOST_AUTO_TEST_CASE(a_stop_request_cancels_a_running_statement) {
    sqlpool::pool pool(one_connection(path));
    std::stop_source source;
    std::atomic<bool> started{false};
    std::atomic<int> outcome{0}; // 1: cancelled_error
    std::thread reader([&] {
        try {
            pool.read(sqlpool::deadline{source.get_token()}, [&](sqlpool::connection& c) {
                started = true;
                return c.query_value<std::int64_t>(minute_query);
            });
            outcome = 2;
        } catch (const sqlpool::cancelled_error&) {
            outcome = 1;
        } catch (...) {
            outcome = 3;
        }
    });
    BOOST_TEST(eventually([&] { return started.load(); }));
    std::this_thread::sleep_for(50ms); // into the query
    source.request_stop();
    BOOST_TEST(eventually([&] { return outcome.load() != 0; }));
    reader.join();
    BOOST_TEST(outcome.load() == 1);
    BOOST_TEST(pool.acquire()->query_value<std::int64_t>("SELECT 7") == 7);
}

BOOST_AUTO_TEST_CASE(a_stop_request_ends_a_wait_for_a_connection) {
    sqlpool::pool pool(one_connection(path));
    auto held = pool.acquire();
    std::stop_source source;
    std::atomic<int> outcome{0};
    std::thread waiter([&] {
        try {
            (void)pool.acquire(sqlpool::deadline{source.get_token()});
            outcome = 2;
        } catch (const sqlpool::cancelled_error&) {
            outcome = 1;
        } catch (...) {
            outcome = 3;
        }
    });
    BOOST_TEST(eventually([&] { return pool.stats().waiting == 1; }));
    source.request_stop();
    waiter.join();
    BOOST_TEST(outcome.load() == 1);
    BOOST_TEST(pool.stats().waiting == 0u);
    held.release();
    BOOST_TEST(pool.acquire(sqlpool::deadline{5s})->query_value<std::int64_t>("SELECT 1") == 1);
}

BOOST_AUTO_TEST_CASE(a_wait_for_a_connection_ends_at_the_deadline) {
    auto config = one_connection(path);
    config.detect_nested_acquire = false; // this thread holds the one lease itself
    sqlpool::pool pool(config);
    auto held = pool.acquire();
    BOOST_CHECK_THROW((void)pool.acquire(sqlpool::deadline{100ms}), sqlpool::timeout_error);
    BOOST_TEST(pool.stats().timeouts == 1u);
    BOOST_CHECK_THROW((void)pool.acquire(sqlpool::deadline{0ms}), sqlpool::timeout_error); // passed already
    std::stop_source stopped;
    stopped.request_stop();
    BOOST_CHECK_THROW((void)pool.acquire(sqlpool::deadline{stopped.get_token()}), sqlpool::cancelled_error);
}

BOOST_AUTO_TEST_CASE(no_statement_starts_after_the_deadline_but_a_rollback_does) {
    sqlpool::pool pool(one_connection(path));
    make_items(pool);
    {
        auto lease = pool.acquire(sqlpool::deadline{200ms});
        auto tx = lease->begin();
        lease->exec("INSERT INTO items DEFAULT VALUES");
        std::this_thread::sleep_for(300ms);
        BOOST_CHECK_THROW(lease->exec("INSERT INTO items DEFAULT VALUES"), sqlpool::timeout_error);
        BOOST_CHECK_THROW(tx.commit(), sqlpool::timeout_error);
        BOOST_CHECK_NO_THROW(tx.rollback());
    }
    BOOST_TEST(count_items(pool) == 0);
    BOOST_TEST(pool.acquire()->query_value<std::int64_t>("SELECT count(*) FROM items") ==
               0); // no deadline left
}

BOOST_AUTO_TEST_CASE(a_deadline_that_does_not_pass_changes_nothing_on_every_kind_of_pool) {
    sqlpool::pool pool(one_connection(path));
    make_items(pool);
    pool.write(sqlpool::deadline{10s},
               [](sqlpool::connection& c) { c.exec("INSERT INTO items DEFAULT VALUES"); });
    BOOST_TEST(pool.read(sqlpool::deadline{10s}, [](sqlpool::connection& c) {
        return c.query_value<std::int64_t>("SELECT count(*) FROM items");
    }) == 1);
    pool.close();

    sqlpool::read_write_pool<> split(sqlpool::pool_config{.database = path});
    split.write(sqlpool::deadline{10s},
                [](sqlpool::connection& c) { c.exec("INSERT INTO items DEFAULT VALUES"); });
    BOOST_TEST(split.read(sqlpool::deadline{10s}, [](sqlpool::connection& c) {
        return c.query_value<std::int64_t>("SELECT count(*) FROM items");
    }) == 2);
    BOOST_TEST(split.acquire_writer(sqlpool::deadline{10s})->query_value<std::int64_t>("SELECT 1") == 1);
    split.close();

    sqlpool::database service(sqlpool::database_options{.pool = sqlpool::pool_config{.database = path}});
    service.start();
    service.write(sqlpool::deadline{10s},
                  [](sqlpool::connection& c) { c.exec("INSERT INTO items DEFAULT VALUES"); });
    BOOST_TEST(service.read(sqlpool::deadline{10s}, [](sqlpool::connection& c) {
        return c.query_value<std::int64_t>("SELECT count(*) FROM items");
    }) == 3);
    BOOST_CHECK_THROW(
        service.read(sqlpool::deadline{1s},
                     [](sqlpool::connection& c) { return c.query_value<std::int64_t>(minute_query); }),
        sqlpool::timeout_error);
    service.stop();
}

BOOST_AUTO_TEST_SUITE_END()
