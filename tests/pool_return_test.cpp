// pool_return: what happens to a connection on its way out and back in: the health checks at
// checkout and at return, the reset on return (rollback, statements, settings, broken
// connections) and its verdict, including the recycling policy's (age, use count). The partition
// is internal; these tests go through a pool.
#define BOOST_TEST_MODULE pool_return
#include <boost/test/unit_test.hpp>

#include <sqlite3.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <tuple>
#include <vector>

#include "support/pool_helpers.hpp"

import sqlpool;

using namespace std::chrono_literals;

namespace {

using sqlpool_test::check_conservation;
using sqlpool_test::checkout_health;
using sqlpool_test::clocked_pool;
using sqlpool_test::manual_clock;
using sqlpool_test::return_health;
using sqlpool_test::small_config;
using sqlpool_test::uses_pool;

} // namespace

// ---------------------------------------------------------------------------------------------
BOOST_FIXTURE_TEST_SUITE(reset_on_return, sqlpool_test::pool_fixture)

BOOST_AUTO_TEST_CASE(clean_return_needs_no_reset) {
    sqlpool::pool pool{small_config(path, 1, 1)};
    {
        auto conn = pool.acquire();
        conn->exec("CREATE TABLE t(v INTEGER)");
        for (auto&& [v] : conn->query<std::int64_t>("SELECT v FROM t")) (void)v;
    }
    BOOST_TEST(pool.stats().resets == 0u);
}

// The pool skips the reset when nothing ran on a connection during the lease; a borrower that
// went around sqlpool through the raw handle still gets one, on this and every later return.
BOOST_AUTO_TEST_CASE(raw_handle_borrower_is_reset_too) {
    sqlpool::pool pool{small_config(path, 1, 1)};
    pool.acquire()->exec("CREATE TABLE t(v INTEGER)");
    (void)pool.acquire(); // nothing runs: the next lease starts from a skipped reset
    sqlite3* raw = nullptr;
    {
        auto conn = pool.acquire();
        raw = conn->native_handle();
        BOOST_TEST_REQUIRE(sqlite3_exec(raw, "BEGIN; INSERT INTO t VALUES(1)", nullptr, nullptr, nullptr) ==
                           SQLITE_OK);
    }
    {
        auto conn = pool.acquire();
        BOOST_TEST(!conn->in_transaction());
        BOOST_TEST(conn->query_value<std::int64_t>("SELECT count(*) FROM t") == 0);
    }
    {
        // The same borrower again, with the handle it kept and no sqlpool call at all.
        auto conn = pool.acquire();
        BOOST_TEST_REQUIRE(sqlite3_exec(raw, "BEGIN", nullptr, nullptr, nullptr) == SQLITE_OK);
    }
    BOOST_TEST(!pool.acquire()->in_transaction());
}

BOOST_AUTO_TEST_CASE(open_transaction_is_rolled_back) {
    sqlpool::pool pool{small_config(path, 1, 1)};
    pool.acquire()->exec("CREATE TABLE t(v INTEGER)");
    std::uint64_t id = 0;
    {
        auto conn = pool.acquire();
        id = conn.info().id;
        conn->exec("BEGIN");
        conn->exec("INSERT INTO t VALUES(1)");
        BOOST_TEST(conn->in_transaction());
    }
    BOOST_TEST(pool.stats().resets == 1u);
    auto conn = pool.acquire();
    BOOST_TEST(conn.info().id == id); // the same connection, cleaned, not a new one
    BOOST_TEST(!conn->in_transaction());
    BOOST_TEST(conn->query_value<std::int64_t>("SELECT count(*) FROM t") == 0);
    BOOST_TEST(pool.stats().closed.total() == 0u);
}

BOOST_AUTO_TEST_CASE(statement_left_mid_step_is_reset) {
    sqlpool::pool pool{small_config(path, 1, 1)};
    pool.acquire()->exec("CREATE TABLE t(v INTEGER); INSERT INTO t VALUES(1), (2), (3);");
    // Declared before the lease, so it outlives it: the lease goes back while the query's
    // statement is still mid-step. (Only the test's own thread uses the pool, so touching the
    // statement after the return is safe here; real code must not let statements outlive leases.)
    std::optional<sqlpool::query_range<std::int64_t>> rows;
    std::uint64_t id = 0;
    {
        auto conn = pool.acquire();
        id = conn.info().id;
        rows.emplace(conn->query<std::int64_t>("SELECT v FROM t"));
        auto it = rows->begin();
        BOOST_TEST(std::get<0>(*it) == 1);
        BOOST_TEST(conn->busy_statement_count() == 1u);
    }
    BOOST_TEST(pool.stats().resets == 1u);
    {
        auto conn = pool.acquire();
        BOOST_TEST(conn.info().id == id);
        BOOST_TEST(conn->busy_statement_count() == 0u); // `rows` is still alive, but reset
        BOOST_TEST(!conn->in_transaction());
        std::int64_t sum = 0;
        for (auto&& [v] : conn->query<std::int64_t>("SELECT v FROM t")) sum += v;
        BOOST_TEST(sum == 6);
    }
    rows.reset();
}

BOOST_AUTO_TEST_CASE(transaction_and_busy_statement_together) {
    sqlpool::pool pool{small_config(path, 1, 1)};
    pool.acquire()->exec("CREATE TABLE t(v INTEGER); INSERT INTO t VALUES(1), (2);");
    std::optional<sqlpool::query_range<std::int64_t>> rows;
    {
        auto conn = pool.acquire();
        conn->exec("BEGIN IMMEDIATE");
        conn->exec("INSERT INTO t VALUES(3)");
        rows.emplace(conn->query<std::int64_t>("SELECT v FROM t"));
        (void)rows->begin();
    }
    BOOST_TEST(pool.stats().resets == 1u); // one return that needed a reset
    {
        auto conn = pool.acquire();
        BOOST_TEST(conn->busy_statement_count() == 0u);
        BOOST_TEST(!conn->in_transaction());
        BOOST_TEST(conn->query_value<std::int64_t>("SELECT count(*) FROM t") == 2);
    }
    rows.reset();
    BOOST_TEST(pool.stats().closed.total() == 0u);
}

BOOST_AUTO_TEST_CASE(borrower_that_throws_leaves_a_clean_connection) {
    sqlpool::pool pool{small_config(path, 1, 1)};
    pool.acquire()->exec("CREATE TABLE t(v INTEGER)");
    try {
        auto conn = pool.acquire();
        conn->exec("BEGIN IMMEDIATE"); // no RAII transaction: only the pool can clean this up
        conn->exec("INSERT INTO t VALUES(1)");
        throw std::runtime_error("borrower failed");
    } catch (const std::runtime_error&) {
    }
    BOOST_TEST(pool.stats().resets == 1u);
    auto conn = pool.acquire();
    BOOST_TEST(!conn->in_transaction());
    BOOST_TEST(conn->query_value<std::int64_t>("SELECT count(*) FROM t") == 0);
}

BOOST_AUTO_TEST_CASE(write_lock_of_an_abandoned_transaction_is_released) {
    sqlpool::pool pool{small_config(path, 1, 2)};
    pool.acquire()->exec("CREATE TABLE t(v INTEGER)");
    {
        auto conn = pool.acquire();
        conn->exec("BEGIN IMMEDIATE");
        conn->exec("INSERT INTO t VALUES(1)");
    }
    auto a = pool.acquire();
    auto b = pool.acquire(); // the other connection
    BOOST_TEST(a.info().id != b.info().id);
    b->exec("BEGIN IMMEDIATE"); // would be SQLITE_BUSY if the abandoned write lock were held
    b->exec("INSERT INTO t VALUES(2)");
    b->exec("COMMIT");
    BOOST_TEST(a->query_value<std::int64_t>("SELECT count(*) FROM t") == 1);
}

BOOST_AUTO_TEST_CASE(pragma_changed_by_a_borrower_is_restored) {
    auto config = small_config(path, 1, 1);
    config.pragmas = {{"cache_size", "-3000"}};
    sqlpool::pool pool{config};
    for (int round = 0; round < 2; ++round) { // the second round runs the same PRAGMA text again
        {
            auto conn = pool.acquire();
            conn->exec("PRAGMA foreign_keys = OFF");
            conn->exec("PRAGMA cache_size = -100");
            conn->exec("PRAGMA busy_timeout = 0");
            BOOST_TEST(conn->query_value<std::int64_t>("PRAGMA foreign_keys") == 0);
        }
        auto conn = pool.acquire();
        BOOST_TEST(!conn->settings_changed());
        BOOST_TEST(conn->query_value<std::int64_t>("PRAGMA foreign_keys") == 1);
        BOOST_TEST(conn->query_value<std::int64_t>("PRAGMA cache_size") == -3000);
        BOOST_TEST(conn->query_value<std::int64_t>("PRAGMA busy_timeout") == 2000);
    }
    // Reading a pragma, or one whose argument names a table, changes nothing.
    {
        auto conn = pool.acquire();
        (void)conn->query_value<std::int64_t>("PRAGMA foreign_keys");
        conn->exec("CREATE TABLE IF NOT EXISTS t(v)");
        for ([[maybe_unused]] auto&& row :
             conn->query<std::int64_t, std::string, std::string, std::int64_t, std::optional<std::string>,
                         std::int64_t>("PRAGMA table_info(t)")) {
        }
        BOOST_TEST(!conn->settings_changed());
    }
}

BOOST_AUTO_TEST_CASE(broken_connection_is_never_handed_out_again) {
    sqlpool::pool pool{small_config(path, 1, 1)};
    std::uint64_t broken_id = 0;
    {
        auto conn = pool.acquire();
        broken_id = conn.info().id;
        conn->mark_broken(sqlpool::result_code::ioerr_write);
    }
    auto s = pool.stats();
    BOOST_TEST(s.closed.broken == 1u);
    BOOST_TEST(s.total == 0u);
    check_conservation(s);
    std::set<std::uint64_t> seen;
    for (int i = 0; i < 5; ++i) seen.insert(pool.acquire().info().id);
    BOOST_TEST(!seen.contains(broken_id));
    BOOST_TEST(seen.size() == 1u); // one healthy replacement, reused
    BOOST_TEST(pool.stats().closed.broken == 1u);
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------------------------------------
BOOST_FIXTURE_TEST_SUITE(health_checks, sqlpool_test::pool_fixture)

BOOST_AUTO_TEST_CASE(connection_failed_on_checkout_is_never_handed_out) {
    sqlpool::basic_pool<sqlpool::locking::std_mutex, checkout_health> pool{small_config(path, 2, 2)};
    std::uint64_t victim = 0;
    {
        auto a = pool.acquire();
        auto b = pool.acquire();
        victim = a.info().id;
    }
    BOOST_TEST(pool.health_policy().state->checkout_checks == 2);
    pool.health_policy().state->failing_id = victim;
    std::set<std::uint64_t> seen;
    for (int i = 0; i < 10; ++i) {
        auto a = pool.acquire();
        auto b = pool.acquire();
        seen.insert(a.info().id);
        seen.insert(b.info().id);
    }
    BOOST_TEST(!seen.contains(victim));
    BOOST_TEST(seen.size() == 2u); // the survivor and one replacement
    const auto s = pool.stats();
    BOOST_TEST(s.failed_health_checks == 1u);
    BOOST_TEST(s.closed.unhealthy == 1u);
    BOOST_TEST(s.created == 3u);
    BOOST_TEST(s.total == 2u);
    check_conservation(s);
}

BOOST_AUTO_TEST_CASE(every_connection_failing_on_checkout_still_gives_a_fresh_one) {
    sqlpool::basic_pool<sqlpool::locking::std_mutex, checkout_health> pool{small_config(path, 1, 1)};
    pool.health_policy().state->fail_all = true;
    auto conn = pool.acquire(); // the idle one fails; a replacement is opened (and not checked)
    BOOST_TEST(conn.info().id == 2u);
    BOOST_TEST(pool.stats().failed_health_checks == 1u);
}

BOOST_AUTO_TEST_CASE(throwing_health_check_counts_as_unhealthy) {
    sqlpool::basic_pool<sqlpool::locking::std_mutex, checkout_health> pool{small_config(path, 1, 1)};
    pool.health_policy().state->throw_instead = true;
    auto conn = pool.acquire();
    BOOST_TEST(conn.info().id == 2u);
    BOOST_TEST(pool.stats().closed.unhealthy == 1u);
}

BOOST_AUTO_TEST_CASE(connection_failed_on_return_is_closed) {
    sqlpool::basic_pool<sqlpool::locking::std_mutex, return_health> pool{small_config(path, 1, 2)};
    {
        auto a = pool.acquire();
        pool.health_policy().state->failing_id = a.info().id;
    }
    auto s = pool.stats();
    BOOST_TEST(pool.health_policy().state->return_checks == 1);
    BOOST_TEST(s.closed.unhealthy == 1u);
    BOOST_TEST(s.failed_health_checks == 1u);
    BOOST_TEST(s.total == 0u);
    auto b = pool.acquire();
    BOOST_TEST(b.info().id == 2u);
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------------------------------------
BOOST_FIXTURE_TEST_SUITE(recycling_on_return, sqlpool_test::pool_fixture)

BOOST_AUTO_TEST_CASE(aged_connection_retires_when_returned) {
    manual_clock clock;
    auto config = small_config(path, 1, 1);
    config.connection_max_age = 100s;
    config.max_age_jitter = 0.0;
    clocked_pool<> pool{config, {}, {}, clock};
    {
        auto conn = pool.acquire();
        clock.advance(99s);
    }
    BOOST_TEST(pool.stats().closed.aged == 0u);
    {
        auto conn = pool.acquire();
        clock.advance(1s);
    }
    BOOST_TEST(pool.stats().closed.aged == 1u);
    BOOST_TEST(pool.stats().total == 0u);
    pool.maintain();
    BOOST_TEST(pool.stats().total == 1u);
}

BOOST_AUTO_TEST_CASE(use_count_recycling) {
    uses_pool<3> pool{small_config(path, 1, 1)};
    std::set<std::uint64_t> ids;
    std::vector<std::uint64_t> use_counts;
    for (int i = 0; i < 9; ++i) {
        auto conn = pool.acquire();
        ids.insert(conn.info().id);
        use_counts.push_back(conn.info().use_count);
    }
    BOOST_TEST(ids.size() == 3u);
    BOOST_TEST((use_counts == std::vector<std::uint64_t>{0, 1, 2, 0, 1, 2, 0, 1, 2}));
    BOOST_TEST(pool.stats().closed.uses == 3u);
}

BOOST_AUTO_TEST_CASE(config_max_uses_with_standard_recycling) {
    auto config = small_config(path, 1, 1);
    config.max_uses = 2;
    clocked_pool<> pool{config};
    for (int i = 0; i < 4; ++i) pool.acquire().release();
    BOOST_TEST(pool.stats().closed.uses == 2u);
}

BOOST_AUTO_TEST_SUITE_END()
