// pool_core: close() (with and without leases out, waking waiters, racing maintenance) and leases
// that outlive their pool. The partition is internal; these tests go through a pool.
#define BOOST_TEST_MODULE pool_core
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "support/pool_helpers.hpp"

import sqlpool;

using namespace std::chrono_literals;

namespace {

using sqlpool_test::check_conservation;
using sqlpool_test::clocked_pool;
using sqlpool_test::eventually;
using sqlpool_test::manual_clock;
using sqlpool_test::small_config;
using sqlpool_test::uses_pool;

// A periodic health check that blocks until the test opens the gate (bounded).
struct gate {
    std::mutex mutex;
    bool entered = false;
    bool open = false;
};

// Marks the gate entered, then waits (bounded) until the test opens it.
void pass(gate& g) {
    {
        std::lock_guard lock(g.mutex);
        g.entered = true;
    }
    (void)eventually([&] {
        std::lock_guard lock(g.mutex);
        return g.open;
    });
}

bool entered(gate& g) {
    std::lock_guard lock(g.mutex);
    return g.entered;
}

void open(gate& g) {
    std::lock_guard lock(g.mutex);
    g.open = true;
}

struct gated_health {
    static constexpr sqlpool::check_point when = sqlpool::check_point::periodic;
    std::shared_ptr<gate> g = std::make_shared<gate>();
    sqlpool::health_status check(sqlpool::connection&, const sqlpool::connection_info&,
                                 sqlpool::check_point) const {
        pass(*g);
        return sqlpool::health_status::healthy;
    }
};

} // namespace

// ---------------------------------------------------------------------------------------------
BOOST_FIXTURE_TEST_SUITE(closing, sqlpool_test::pool_fixture)

BOOST_AUTO_TEST_CASE(close_with_the_largest_timeout_waits_for_leases) {
    sqlpool::pool pool{small_config(path, 1, 1)};
    std::optional<sqlpool::lease> held = pool.acquire();
    std::jthread returner([&] {
        (void)eventually([&] { return pool.closed(); });
        held.reset();
    });
    const bool all_closed = pool.close(std::chrono::nanoseconds::max());
    returner.join();
    BOOST_TEST(all_closed);
    BOOST_TEST(pool.stats().total == 0u);
}

BOOST_AUTO_TEST_CASE(close_with_outstanding_leases) {
    sqlpool::pool pool{small_config(path, 2, 2)};
    auto held = pool.acquire();
    BOOST_TEST(!pool.close(10ms)); // the lease is still out
    BOOST_TEST(pool.closed());
    auto s = pool.stats();
    BOOST_TEST(s.total == 1u); // the idle one is closed already
    BOOST_TEST(s.closed.shutdown == 1u);
    BOOST_CHECK_THROW((void)pool.acquire(), sqlpool::pool_closed_error);
    BOOST_CHECK_THROW((void)pool.try_acquire(), sqlpool::pool_closed_error);
    held->exec("CREATE TABLE still_usable(v)"); // the lease keeps working
    BOOST_TEST(held->query_value<std::int64_t>("SELECT count(*) FROM still_usable") == 0);
    held.release(); // closes it
    s = pool.stats();
    BOOST_TEST(s.total == 0u);
    BOOST_TEST(s.in_use == 0u);
    BOOST_TEST(s.closed.shutdown == 2u);
    check_conservation(s);
    BOOST_TEST(pool.close(0ms)); // now everything is closed
}

BOOST_AUTO_TEST_CASE(close_without_leases_closes_everything) {
    sqlpool::pool pool{small_config(path, 3, 3)};
    BOOST_TEST(pool.close(0ms));
    const auto s = pool.stats();
    BOOST_TEST(s.total == 0u);
    BOOST_TEST(s.closed.shutdown == 3u);
    BOOST_TEST(pool.close()); // idempotent
    pool.maintain();          // a closed pool does not replenish
    BOOST_TEST(pool.stats().total == 0u);
}

BOOST_AUTO_TEST_CASE(close_waits_for_a_lease_returned_on_another_thread) {
    sqlpool::pool pool{small_config(path, 1, 1)};
    std::optional<sqlpool::lease> held = pool.acquire();
    std::jthread returner([&] {
        (void)eventually([&] { return pool.closed(); });
        held.reset();
    });
    BOOST_TEST(pool.close(30s));
    returner.join();
    BOOST_TEST(pool.stats().closed.shutdown == 1u);
}

BOOST_AUTO_TEST_CASE(close_wakes_waiters_with_pool_closed_error) {
    sqlpool::pool pool{small_config(path, 1, 1)};
    std::optional<sqlpool::lease> held = pool.acquire();
    std::atomic<int> closed_errors{0};
    std::atomic<int> other{0};
    std::vector<std::jthread> waiters;
    for (int i = 0; i < 3; ++i) {
        waiters.emplace_back([&] {
            try {
                (void)pool.acquire(30s);
                ++other;
            } catch (const sqlpool::pool_closed_error&) {
                ++closed_errors;
            } catch (...) {
                ++other;
            }
        });
        BOOST_TEST_REQUIRE(
            eventually([&] { return pool.stats().waiting == static_cast<std::size_t>(i + 1); }));
    }
    BOOST_TEST(!pool.close(1ms)); // wakes the waiters; the held lease is still out
    for (auto& w : waiters) w.join();
    BOOST_TEST(closed_errors == 3);
    BOOST_TEST(other == 0);
    BOOST_TEST(pool.stats().waiting == 0u);
    held.reset();
    BOOST_TEST(pool.stats().total == 0u);
}

BOOST_AUTO_TEST_CASE(close_while_maintenance_checks_a_connection) {
    // maintain() takes idle connections out to check them. If close() runs meanwhile, the checked
    // connection must be closed when maintenance is done with it, not parked in the idle set of
    // a closed pool.
    manual_clock clock;
    auto config = small_config(path, 1, 1);
    config.health_check_interval = 1s;
    clocked_pool<gated_health, sqlpool::recycling::never> pool{config, {}, {}, clock};
    auto g = pool.health_policy().g;
    clock.advance(1s);
    std::jthread maintainer([&] { pool.maintain(); });
    BOOST_TEST_REQUIRE(eventually([&] { return entered(*g); }));
    std::atomic<bool> all_closed{false};
    std::jthread closer([&] { all_closed = pool.close(20s); });
    BOOST_TEST_REQUIRE(eventually([&] { return pool.closed(); }));
    open(*g);
    maintainer.join();
    closer.join();
    const auto s = pool.stats();
    BOOST_TEST(all_closed.load());
    BOOST_TEST(s.total == 0u);
    BOOST_TEST(s.idle == 0u);
    BOOST_TEST(s.closed.shutdown == 1u);
}

BOOST_AUTO_TEST_CASE(close_while_maintenance_opens_a_connection) {
    // The same for a connection maintenance is opening to replenish min_connections: if close()
    // ran meanwhile, the new connection must be closed, not parked in a closed pool's idle set.
    auto g = std::make_shared<gate>();
    auto hold_opens = std::make_shared<std::atomic<bool>>(false);
    auto config = small_config(path, 1, 1);
    config.on_connect = [g, hold_opens](sqlpool::connection&) {
        if (*hold_opens) pass(*g);
    };
    uses_pool<1> pool{config};
    pool.acquire().release(); // retired on return: below min, so maintain() will open one
    BOOST_TEST_REQUIRE(pool.stats().total == 0u);
    *hold_opens = true;
    std::jthread maintainer([&] { pool.maintain(); });
    BOOST_TEST_REQUIRE(eventually([&] { return entered(*g); }));
    std::atomic<bool> all_closed{false};
    std::jthread closer([&] { all_closed = pool.close(20s); });
    BOOST_TEST_REQUIRE(eventually([&] { return pool.closed(); }));
    open(*g);
    maintainer.join();
    closer.join();
    const auto s = pool.stats();
    BOOST_TEST(all_closed.load());
    BOOST_TEST(s.total == 0u);
    BOOST_TEST(s.idle == 0u);
    BOOST_TEST(s.closed.shutdown == 1u);
    check_conservation(s);
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------------------------------------
BOOST_FIXTURE_TEST_SUITE(leases_outliving_the_pool, sqlpool_test::pool_fixture)

BOOST_AUTO_TEST_CASE(lease_outliving_its_pool_is_safe) {
    std::optional<sqlpool::lease> survivor;
    {
        auto config = small_config(path, 2, 2);
        config.close_timeout = 10ms;
        sqlpool::pool pool{config};
        survivor = pool.acquire();
    } // the destructor closes the idle connection, waits 10 ms for the lease, and leaves
    BOOST_TEST_REQUIRE(survivor.has_value());
    (*survivor)->exec("CREATE TABLE after_pool(v INTEGER)");
    (*survivor)->exec("INSERT INTO after_pool VALUES(1)");
    BOOST_TEST((*survivor)->query_value<std::int64_t>("SELECT count(*) FROM after_pool") == 1);
    BOOST_TEST(survivor->info().id >= 1u);
    survivor.reset(); // closes the connection and frees what the pool left behind
    sqlpool::connection check{path};
    BOOST_TEST(check.query_value<std::int64_t>("SELECT count(*) FROM after_pool") == 1);
}

BOOST_AUTO_TEST_CASE(lease_outliving_its_pool_returned_on_another_thread) {
    std::atomic<bool> pool_gone{false};
    std::atomic<int> rows{-1};
    std::optional<sqlpool::lease> survivor;
    std::jthread user;
    {
        auto config = small_config(path, 1, 1);
        config.close_timeout = 1ms;
        config.background_maintenance = true;
        sqlpool::pool pool{config};
        survivor = pool.acquire();
        survivor->get().exec("BEGIN"); // left open: the reset runs after the pool is gone
        user = std::jthread([&] {
            if (!eventually([&] { return pool_gone.load(); })) return;
            try {
                (*survivor)->exec("CREATE TABLE late(v)");
                rows = static_cast<int>((*survivor)->query_value<std::int64_t>("SELECT count(*) FROM late"));
            } catch (...) {
            }
            survivor.reset();
        });
    }
    pool_gone = true;
    user.join();
    BOOST_TEST(rows == 0);
    BOOST_TEST(!survivor.has_value());
}

BOOST_AUTO_TEST_CASE(memory_lease_outliving_its_pool) {
    std::optional<sqlpool::lease> survivor;
    {
        auto config = small_config(":memory:", 1, 1);
        config.close_timeout = 1ms;
        sqlpool::pool pool{config};
        survivor = pool.acquire();
        (*survivor)->exec("CREATE TABLE m(v); INSERT INTO m VALUES(1);");
    }
    BOOST_TEST((*survivor)->query_value<std::int64_t>("SELECT count(*) FROM m") == 1);
    survivor.reset();
}

BOOST_AUTO_TEST_SUITE_END()
