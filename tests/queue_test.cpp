// Queue policies: the queue_policy concept, and in real pools which idle connection goes first
// and who gets a returned one.
#define BOOST_TEST_MODULE queue
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "support/temp_dir.hpp"

import sqlpool;

// Concepts: a type that misses or misspells what a concept names does not satisfy it, and
// basic_pool refuses it; every stock policy does satisfy its concept.

namespace bad {

// queue_policy
struct no_reuse {
    static constexpr sqlpool::handoff_mode handoff = sqlpool::handoff_mode::direct;
};
struct handoff_is_bool {
    static constexpr bool handoff = true;
    static constexpr sqlpool::reuse_order reuse = sqlpool::reuse_order::lifo;
};

} // namespace bad

static_assert(!sqlpool::queue_policy<bad::no_reuse>);
static_assert(!sqlpool::queue_policy<bad::handoff_is_bool>);
static_assert(!sqlpool::queue_policy<sqlpool::locking::std_mutex>);

// basic_pool's parameters are constrained: a bad policy in any position is refused.
template <class Q>
concept pool_takes_queue = requires {
    typename sqlpool::basic_pool<sqlpool::locking::std_mutex, sqlpool::health::ping,
                                 sqlpool::recycling::standard, sqlpool::isolation::deferred, Q>;
};
static_assert(!pool_takes_queue<bad::no_reuse>);
static_assert(pool_takes_queue<sqlpool::queue::round_robin>);

// ---------------------------------------------------------------------------------------------
// Queue policies in real pools: which idle connection goes first, and who gets a returned one.
BOOST_AUTO_TEST_SUITE(queue)

template <class Queue>
using queued = sqlpool::basic_pool<sqlpool::locking::std_mutex, sqlpool::health::no_check,
                                   sqlpool::recycling::never, sqlpool::isolation::deferred, Queue>;

sqlpool::pool_config queue_config(const sqlpool_test::temp_dir& dir, std::size_t connections) {
    return {.database = dir.file("q.db"),
            .min_connections = connections,
            .max_connections = connections,
            .background_maintenance = false};
}

// The ids of the connections six acquire + release rounds in a row get.
template <class Pool>
std::vector<std::uint64_t> ids_in_turn(Pool& pool) {
    std::vector<std::uint64_t> ids;
    for (int i = 0; i < 6; ++i) ids.push_back(pool.acquire().info().id);
    return ids;
}

BOOST_AUTO_TEST_CASE(barging_and_fifo_reuse_the_most_recently_returned_connection) {
    sqlpool_test::temp_dir dir;
    queued<sqlpool::queue::barging> barging{queue_config(dir, 3)};
    const auto ids = ids_in_turn(barging);
    BOOST_TEST(std::set<std::uint64_t>(ids.begin(), ids.end()).size() == 1u);
    sqlpool_test::temp_dir other;
    queued<sqlpool::queue::fifo> fifo{queue_config(other, 3)};
    const auto fifo_ids = ids_in_turn(fifo);
    BOOST_TEST(std::set<std::uint64_t>(fifo_ids.begin(), fifo_ids.end()).size() == 1u);
}

BOOST_AUTO_TEST_CASE(round_robin_takes_the_least_recently_returned_connection) {
    sqlpool_test::temp_dir dir;
    queued<sqlpool::queue::round_robin> pool{queue_config(dir, 3)};
    const auto ids = ids_in_turn(pool);
    BOOST_TEST(std::set<std::uint64_t>(ids.begin(), ids.end()).size() == 3u);
    for (std::size_t i = 3; i < ids.size(); ++i) BOOST_TEST(ids[i] == ids[i - 3]); // in turn
    BOOST_TEST(pool.stats().acquired == 6u);
}

// Two threads queue, one after the other, behind a held connection. `fifo` puts the returned
// connection into the first waiter's hands: a thread that asks right after the release finds
// nothing idle, and the waiters get it in arrival order.
BOOST_AUTO_TEST_CASE(fifo_hands_a_returned_connection_to_the_longest_waiter) {
    sqlpool_test::temp_dir dir;
    queued<sqlpool::queue::fifo> pool{queue_config(dir, 1)};
    auto held = pool.acquire();
    std::mutex order_mutex;
    std::vector<int> order;
    std::atomic<bool> checked{false};
    const auto wait_then_use = [&](int who) {
        auto lease = pool.acquire(std::chrono::seconds(60));
        {
            std::lock_guard lock(order_mutex);
            order.push_back(who);
        }
        checked.wait(false); // keeps it until the main thread has looked at the idle set
    };
    const auto until_waiting = [&](std::size_t n) {
        while (pool.stats().waiting != n) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    };
    std::thread first(wait_then_use, 1);
    until_waiting(1);
    std::thread second(wait_then_use, 2);
    until_waiting(2);
    held = {};
    BOOST_TEST(!pool.try_acquire().has_value()); // it went to a waiter, not back to the idle set
    checked = true;
    checked.notify_all();
    first.join();
    second.join();
    BOOST_TEST((order == std::vector<int>{1, 2}));
}

BOOST_AUTO_TEST_SUITE_END()
