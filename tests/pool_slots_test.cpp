// pool_slots: the slot table: an idle connection is claimed again rather than a new one opened, a
// vacant slot is reserved when none is idle, and no connection is ever held by two threads at
// once, under the std_mutex and spin locking policies. The partition is internal; these tests go
// through a pool.
//
// Stress scale: 32 threads x 2000 acquire/release cycles in every build (dev, ASan, TSan); set
// SQLPOOL_STRESS_SCALE (a positive integer) to multiply the cycle count for a longer local run.
#define BOOST_TEST_MODULE pool_slots
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <random>
#include <thread>
#include <vector>

#include "support/pool_helpers.hpp"

import sqlpool;

using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

namespace {

using sqlpool_test::check_conservation;
using sqlpool_test::small_config;

int stress_scale() {
    const char* text = std::getenv("SQLPOOL_STRESS_SCALE");
    const int scale = text != nullptr ? std::atoi(text) : 1;
    return std::clamp(scale, 1, 1000);
}

} // namespace

// ---------------------------------------------------------------------------------------------
BOOST_FIXTURE_TEST_SUITE(exclusive_use, sqlpool_test::pool_fixture)

BOOST_AUTO_TEST_CASE(acquire_release_and_reuse) {
    sqlpool::pool pool{small_config(path, 1, 2)};
    std::uint64_t first_id = 0;
    {
        auto conn = pool.acquire();
        first_id = conn.info().id;
        BOOST_TEST(first_id == 1u);
        BOOST_TEST(conn.info().use_count == 0u);
        conn->exec("CREATE TABLE t(v)");
        const auto s = pool.stats();
        BOOST_TEST(s.in_use == 1u);
        BOOST_TEST(s.idle == 0u);
    }
    BOOST_TEST(pool.stats().in_use == 0u);
    auto again = pool.acquire();
    BOOST_TEST(again.info().id == first_id); // the idle connection is reused, not a new one
    BOOST_TEST(again.info().use_count == 1u);
    const auto s = pool.stats();
    BOOST_TEST(s.acquired == 2u);
    BOOST_TEST(s.created == 1u);
    check_conservation(s);
}

BOOST_AUTO_TEST_CASE(second_concurrent_lease_opens_a_second_connection) {
    sqlpool::pool pool{small_config(path, 1, 2)};
    auto a = pool.acquire();
    auto b = pool.acquire();
    BOOST_TEST(a.info().id != b.info().id);
    BOOST_TEST(&a.get() != &b.get());
    const auto s = pool.stats();
    BOOST_TEST(s.total == 2u);
    BOOST_TEST(s.in_use == 2u);
    BOOST_TEST(s.created == 2u);
}

BOOST_AUTO_TEST_CASE(no_connection_is_ever_held_by_two_threads) {
    // 32 threads x 2000 cycles (x SQLPOOL_STRESS_SCALE), random short holds, with background
    // maintenance running every millisecond (periodic checks, idle retirement, replenishing)
    // alongside. Each connection id has an owner slot claimed by compare-exchange: a failed claim
    // means two threads hold the same connection.
    constexpr std::size_t max = 8;
    constexpr int threads = 32;
    const int iterations = 2000 * stress_scale();
    auto config = small_config(path, 2, max);
    config.acquire_timeout = 60s;
    config.background_maintenance = true;
    config.maintenance_interval = 1ms;
    config.health_check_interval = 1ms;
    config.idle_timeout = 20ms;
    sqlpool::pool pool{config};
    pool.acquire()->exec("CREATE TABLE t(v INTEGER)");

    std::vector<std::atomic<int>> owner(1 << 16);
    std::atomic<std::uint64_t> double_handouts{0};
    std::atomic<std::uint64_t> over_max{0};
    std::atomic<std::uint64_t> dirty{0};
    std::atomic<std::uint64_t> errors{0};
    std::atomic<std::uint64_t> done{0};
    {
        std::vector<std::jthread> workers;
        for (int t = 0; t < threads; ++t)
            workers.emplace_back([&, t] {
                std::minstd_rand rng(static_cast<unsigned>(t) + 1u);
                for (int i = 0; i < iterations; ++i) {
                    try {
                        auto conn = pool.acquire();
                        // Ids are unique; at most `max` are live at once, far apart from any
                        // other live id modulo the table size.
                        auto& slot = owner[conn.info().id % owner.size()];
                        int expected = 0;
                        if (!slot.compare_exchange_strong(expected, t + 1)) ++double_handouts;
                        if (conn->in_transaction() || conn->busy_statement_count() != 0) ++dirty;
                        switch (rng() % 16) {
                        case 0: // leave a transaction open for the pool to roll back
                            conn->exec("BEGIN");
                            break;
                        case 1:
                            std::this_thread::sleep_for(std::chrono::microseconds(rng() % 200));
                            break;
                        case 2:
                            if (pool.stats().in_use > max) ++over_max;
                            break;
                        default:
                            if (rng() % 4 == 0) std::this_thread::yield();
                            break;
                        }
                        expected = t + 1;
                        if (!slot.compare_exchange_strong(expected, 0)) ++double_handouts;
                        ++done;
                    } catch (...) {
                        ++errors;
                    }
                }
            });
        // Sample the pool while the workers run (bounded: the workers finish, or time out).
        const auto total_cycles =
            static_cast<std::uint64_t>(threads) * static_cast<std::uint64_t>(iterations);
        const auto give_up = steady::now() + 10min;
        while (done + errors < total_cycles && steady::now() < give_up) {
            const auto s = pool.stats();
            if (s.in_use > max || s.total > max) ++over_max;
            std::this_thread::sleep_for(500us);
        }
    }
    // close() stops the maintenance thread first, so the counts are final afterwards.
    BOOST_TEST(pool.close(10s).complete);
    const auto s = pool.stats();
    BOOST_TEST(double_handouts == 0u);
    BOOST_TEST(over_max == 0u);
    BOOST_TEST(dirty == 0u);
    BOOST_TEST(errors == 0u);
    BOOST_TEST(done == static_cast<std::uint64_t>(threads) * static_cast<std::uint64_t>(iterations));
    BOOST_TEST(s.total == 0u);
    BOOST_TEST(s.in_use == 0u);
    BOOST_TEST(s.waiting == 0u);
    BOOST_TEST(s.timeouts == 0u);
    BOOST_TEST(s.acquired ==
               static_cast<std::uint64_t>(threads) * static_cast<std::uint64_t>(iterations) + 1u);
    BOOST_TEST(s.closed.broken == 0u);
    BOOST_TEST(s.open_failures == 0u);
    check_conservation(s);
}

BOOST_AUTO_TEST_CASE(spin_locking_pool_under_contention) {
    constexpr std::size_t max = 4;
    constexpr int threads = 8;
    constexpr int iterations = 1000;
    sqlpool::basic_pool<sqlpool::locking::spin> pool{small_config(path, 1, max)};
    std::vector<std::atomic<int>> owner(64);
    std::atomic<std::uint64_t> double_handouts{0};
    std::atomic<std::uint64_t> errors{0};
    {
        std::vector<std::jthread> workers;
        for (int t = 0; t < threads; ++t)
            workers.emplace_back([&, t] {
                for (int i = 0; i < iterations; ++i) {
                    try {
                        auto conn = pool.acquire(60s);
                        auto& slot = owner.at(conn.info().id);
                        int expected = 0;
                        if (!slot.compare_exchange_strong(expected, t + 1)) ++double_handouts;
                        std::this_thread::yield();
                        expected = t + 1;
                        if (!slot.compare_exchange_strong(expected, 0)) ++double_handouts;
                    } catch (...) {
                        ++errors;
                    }
                }
            });
    }
    const auto s = pool.stats();
    BOOST_TEST(double_handouts == 0u);
    BOOST_TEST(errors == 0u);
    BOOST_TEST(s.total <= max);
    BOOST_TEST(s.idle == s.total);
    BOOST_TEST(s.acquired == static_cast<std::uint64_t>(threads) * iterations);
}

BOOST_AUTO_TEST_SUITE_END()
