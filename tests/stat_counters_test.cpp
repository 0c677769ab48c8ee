// stat_counters: what a pool counts as it runs — its wait-time histogram behind the percentiles
// of pool_stats (acquires that took an idle connection at once count as waits of zero). The
// partition is internal; these tests go through a pool with real threads.
#define BOOST_TEST_MODULE stat_counters
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <thread>

#include "support/pool_helpers.hpp"

import sqlpool;

using namespace std::chrono_literals;

using sqlpool_test::eventually;
using sqlpool_test::pool_fixture;
using sqlpool_test::small_config;

BOOST_FIXTURE_TEST_CASE(a_pool_that_never_waited_reports_zero_waits, pool_fixture) {
    sqlpool::pool pool(small_config(path, 1, 1));
    for (int i = 0; i < 10; ++i) (void)pool.acquire();
    const sqlpool::pool_stats s = pool.stats();
    BOOST_TEST(s.acquired == 10u);
    BOOST_TEST(s.wait_p50.count() == 0);
    BOOST_TEST(s.wait_p99.count() == 0);
    BOOST_TEST(s.wait_max.count() == 0);
}

BOOST_FIXTURE_TEST_CASE(one_long_wait_shows_in_the_maximum_and_not_in_the_median, pool_fixture) {
    sqlpool::pool pool(small_config(path, 1, 1));
    for (int i = 0; i < 200; ++i) (void)pool.acquire(); // 200 waits of zero
    auto held = pool.acquire();
    std::thread waiter([&] { (void)pool.acquire(10s); });
    BOOST_TEST(eventually([&] { return pool.stats().waiting == 1; }));
    std::this_thread::sleep_for(20ms); // the waiter waits at least this long
    held = {};
    waiter.join();
    const sqlpool::pool_stats s = pool.stats();
    BOOST_TEST(s.acquired == 202u);
    BOOST_TEST(s.wait_p50.count() == 0);
    BOOST_TEST(s.wait_max >= 20ms);
    // The histogram's buckets are 12.5 % wide: the quantile of the one wait is within that of it.
    BOOST_TEST(s.wait_p99 <= s.wait_max);
}

BOOST_FIXTURE_TEST_CASE(a_timed_out_acquire_is_counted_and_its_wait_is_not_a_lease, pool_fixture) {
    sqlpool::pool pool(small_config(path, 1, 1));
    auto held = pool.acquire();
    BOOST_TEST(!pool.try_acquire(5ms).has_value());
    const sqlpool::pool_stats s = pool.stats();
    BOOST_TEST(s.timeouts == 1u);
    BOOST_TEST(s.acquired == 1u);
}
