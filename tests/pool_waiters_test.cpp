// pool_waiters: the threads blocked in acquire(): served in arrival order, a waiter that times
// out leaving the queue without disturbing that order, and a deadline that saturates instead of
// overflowing. The partition is internal; these tests go through a pool.
#define BOOST_TEST_MODULE pool_waiters
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "support/pool_helpers.hpp"

import sqlpool;

using namespace std::chrono_literals;

namespace {

using sqlpool_test::eventually;
using sqlpool_test::small_config;

} // namespace

// ---------------------------------------------------------------------------------------------
BOOST_FIXTURE_TEST_SUITE(waiters, sqlpool_test::pool_fixture)

BOOST_AUTO_TEST_CASE(waiters_are_served_first_come_first_served) {
    constexpr int waiter_count = 6;
    sqlpool::pool pool{small_config(path, 2, 2)};
    std::optional<sqlpool::lease> held_a = pool.acquire();
    std::optional<sqlpool::lease> held_b = pool.acquire();

    std::mutex order_mutex;
    std::vector<int> order;
    const auto served = [&] {
        std::lock_guard lock(order_mutex);
        return order.size();
    };
    std::vector<std::atomic<bool>> may_leave(waiter_count);
    std::atomic<int> errors{0};
    std::vector<std::jthread> waiters;
    for (int i = 0; i < waiter_count; ++i) {
        waiters.emplace_back([&, i] {
            try {
                auto conn = pool.acquire(30s);
                {
                    std::lock_guard lock(order_mutex);
                    order.push_back(i);
                }
                // Hold the connection until the test lets this waiter go (bounded).
                if (!eventually([&] { return may_leave[static_cast<std::size_t>(i)].load(); })) ++errors;
            } catch (...) {
                ++errors;
            }
        });
        // The next waiter starts only once this one is queued.
        BOOST_TEST_REQUIRE(
            eventually([&] { return pool.stats().waiting == static_cast<std::size_t>(i + 1); }));
    }
    // Free one connection at a time; each must go to the longest waiter.
    held_a.reset();
    BOOST_TEST_REQUIRE(eventually([&] { return served() == 1u; }));
    held_b.reset();
    BOOST_TEST_REQUIRE(eventually([&] { return served() == 2u; }));
    for (std::size_t next = 2; next < waiter_count; ++next) {
        int leaving = 0;
        {
            std::lock_guard lock(order_mutex);
            leaving = order[next - 2];
        }
        may_leave[static_cast<std::size_t>(leaving)] = true;
        BOOST_TEST_REQUIRE(eventually([&] { return served() == next + 1; }));
    }
    for (auto& flag : may_leave) flag = true;
    for (auto& w : waiters) w.join();
    BOOST_TEST((order == std::vector<int>{0, 1, 2, 3, 4, 5}));
    BOOST_TEST(errors == 0);
    const auto s = pool.stats();
    BOOST_TEST(s.waiting == 0u);
    BOOST_TEST(s.total == 2u);
    BOOST_TEST(s.acquired == 2u + waiter_count);
}

BOOST_AUTO_TEST_CASE(a_timed_out_waiter_leaves_the_queue_in_order) {
    sqlpool::pool pool{small_config(path, 1, 1)};
    std::optional<sqlpool::lease> held = pool.acquire();
    std::mutex order_mutex;
    std::vector<int> order;
    std::atomic<int> errors{0};
    std::atomic<bool> middle_timed_out{false};
    std::atomic<bool> middle_done{false};
    const auto patient = [&](int tag) {
        try {
            auto conn = pool.acquire(30s);
            std::lock_guard lock(order_mutex);
            order.push_back(tag);
        } catch (...) {
            ++errors;
        }
    };
    std::jthread first(patient, 0);
    BOOST_TEST_REQUIRE(eventually([&] { return pool.stats().waiting == 1u; }));
    std::jthread middle([&] {
        try {
            middle_timed_out = !pool.try_acquire(300ms).has_value();
        } catch (...) {
            ++errors;
        }
        middle_done = true;
    });
    BOOST_TEST_REQUIRE(eventually([&] { return pool.stats().waiting == 2u || middle_done; }));
    std::jthread last(patient, 2);
    BOOST_TEST_REQUIRE(eventually([&] {
        const auto waiting = pool.stats().waiting;
        return waiting == 3u || (middle_done && waiting == 2u);
    }));
    middle.join(); // times out by itself
    BOOST_TEST(middle_timed_out.load());
    BOOST_TEST(pool.stats().waiting == 2u);
    held.reset();
    first.join();
    last.join();
    BOOST_TEST((order == std::vector<int>{0, 2}));
    BOOST_TEST(errors == 0);
    BOOST_TEST(pool.stats().timeouts == 1u);
}

BOOST_AUTO_TEST_CASE(acquire_with_the_largest_timeout_waits) {
    // nanoseconds::max() is the natural "wait for ever"; the deadline must saturate, not
    // overflow into the past (signed overflow: UB, and an immediate timeout_error in practice).
    sqlpool::pool pool{small_config(path, 1, 1)};
    std::optional<sqlpool::lease> held = pool.acquire();
    std::atomic<int> outcome{0}; // 1: got a lease, 2: timeout_error, 3: anything else
    std::jthread waiter([&] {
        try {
            auto conn = pool.acquire(std::chrono::nanoseconds::max());
            outcome = 1;
        } catch (const sqlpool::timeout_error&) {
            outcome = 2;
        } catch (...) {
            outcome = 3;
        }
    });
    BOOST_TEST_REQUIRE(eventually([&] { return pool.stats().waiting == 1u || outcome != 0; }));
    held.reset();
    BOOST_TEST_REQUIRE(eventually([&] { return outcome != 0; }));
    waiter.join();
    BOOST_TEST(outcome == 1);
}

BOOST_AUTO_TEST_SUITE_END()
