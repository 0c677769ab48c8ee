// Locking policies: the locking_policy concept, and the stock mutexes and conditions.
#define BOOST_TEST_MODULE locking
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

import sqlpool;

using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

// Concepts: a type that misses or misspells what a concept names does not satisfy it, and
// basic_pool refuses it; every stock policy does satisfy its concept.

namespace bad {

// locking_policy
struct no_mutex_type {
    using condition_type = std::condition_variable;
};
struct condition_cannot_wait {
    using mutex_type = std::mutex;
    using condition_type = int;
};

} // namespace bad

static_assert(!sqlpool::locking_policy<bad::no_mutex_type>);
static_assert(!sqlpool::locking_policy<bad::condition_cannot_wait>);
static_assert(!sqlpool::locking_policy<int>);

// basic_pool's parameters are constrained: a bad policy in any position is refused.
template <class L>
concept pool_takes_locking = requires { typename sqlpool::basic_pool<L>; };
static_assert(!pool_takes_locking<bad::condition_cannot_wait>);
static_assert(pool_takes_locking<sqlpool::locking::spin>);

static_assert(sqlpool::locking_policy<sqlpool::locking::std_mutex>);
static_assert(sqlpool::locking_policy<sqlpool::locking::spin>);
static_assert(sqlpool::locking_policy<sqlpool::locking::single_thread>);

BOOST_AUTO_TEST_SUITE(locking)

BOOST_AUTO_TEST_CASE(spin_mutex_excludes) {
    sqlpool::locking::spin_mutex mutex;
    BOOST_TEST(mutex.try_lock());
    BOOST_TEST(!mutex.try_lock());
    mutex.unlock();
    std::int64_t counter = 0; // unsynchronised but for the mutex: TSan checks the exclusion
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t)
        threads.emplace_back([&] {
            for (int i = 0; i < 20000; ++i) {
                std::lock_guard lock(mutex);
                ++counter;
            }
        });
    for (auto& t : threads) t.join();
    BOOST_TEST(counter == 80000);
}

BOOST_AUTO_TEST_CASE(null_locking_never_waits) {
    sqlpool::locking::null_mutex mutex;
    sqlpool::locking::null_condition condition;
    std::unique_lock lock(mutex);
    BOOST_TEST(mutex.try_lock());
    BOOST_TEST((condition.wait_until(lock, steady::now() + 1h) == std::cv_status::timeout));
    static_assert(!sqlpool::locking_traits<sqlpool::locking::single_thread>::concurrent);
    static_assert(sqlpool::locking_traits<sqlpool::locking::std_mutex>::concurrent &&
                  sqlpool::locking_traits<sqlpool::locking::spin>::concurrent);
}

BOOST_AUTO_TEST_SUITE_END()
