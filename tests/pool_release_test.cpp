// pool_release: the way back — a returned connection goes idle or, under strict FIFO, straight into
// the longest waiter's hands; one return wakes one waiter; a retired connection frees its slot for
// a waiter, who opens a new one; a return after close() closes the connection. The partition is
// internal; these tests go through a pool, with real threads.
#define BOOST_TEST_MODULE pool_release
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <thread>

#include "support/pool_helpers.hpp"

import sqlpool;

using namespace std::chrono_literals;

namespace {

using sqlpool_test::eventually;
using sqlpool_test::small_config;

using fifo_pool =
    sqlpool::basic_pool<sqlpool::locking::std_mutex, sqlpool::health::ping, sqlpool::recycling::standard,
                        sqlpool::isolation::deferred, sqlpool::queue::fifo>;

// A thread that waits in acquire() and keeps what it got until told to let go.
template <class Pool>
struct waiting_thread {
    Pool& pool;
    std::atomic<std::uint64_t> got_id{0};
    std::atomic<bool> let_go{false};
    std::thread thread{[this] {
        auto lease = pool.acquire(20s);
        got_id = lease.info().id;
        while (!let_go) std::this_thread::sleep_for(1ms);
    }};

    ~waiting_thread() {
        let_go = true;
        thread.join();
    }
};

} // namespace

BOOST_FIXTURE_TEST_SUITE(the_way_back, sqlpool_test::pool_fixture)

BOOST_AUTO_TEST_CASE(under_fifo_a_returned_connection_is_handed_to_the_longest_waiter) {
    fifo_pool pool{small_config(path, 1, 1)};
    std::optional<fifo_pool::lease> held = pool.acquire();
    const std::uint64_t id = held->info().id;
    waiting_thread<fifo_pool> waiter{pool};
    BOOST_TEST_REQUIRE(eventually([&] { return pool.stats().waiting == 1u; }));
    held.reset(); // the return hands the connection over before it comes back from release
    // Nothing is idle for a thread that comes later, even without queueing.
    BOOST_TEST(!pool.try_acquire(0ms).has_value());
    BOOST_TEST_REQUIRE(eventually([&] { return waiter.got_id != 0u; }));
    BOOST_TEST(waiter.got_id == id);
    BOOST_TEST(pool.stats().idle == 0u);
}

BOOST_AUTO_TEST_CASE(one_return_wakes_one_waiter) {
    sqlpool::pool pool{small_config(path, 1, 1)};
    std::optional<sqlpool::lease> held = pool.acquire();
    waiting_thread<sqlpool::pool> first{pool};
    waiting_thread<sqlpool::pool> second{pool};
    BOOST_TEST_REQUIRE(eventually([&] { return pool.stats().waiting == 2u; }));
    held.reset();
    BOOST_TEST_REQUIRE(eventually([&] { return first.got_id != 0u || second.got_id != 0u; }));
    BOOST_TEST(pool.stats().waiting == 1u); // the other still sleeps: there is no second connection
    BOOST_TEST((first.got_id == 0u || second.got_id == 0u));
    (first.got_id != 0u ? first : second).let_go = true;
    BOOST_TEST_REQUIRE(eventually([&] { return first.got_id != 0u && second.got_id != 0u; }));
    BOOST_TEST(first.got_id == second.got_id); // one connection, passed on
}

BOOST_AUTO_TEST_CASE(a_retired_connection_frees_its_slot_for_a_waiter) {
    sqlpool::pool pool{small_config(path, 1, 1)};
    std::optional<sqlpool::lease> held = pool.acquire();
    const std::uint64_t broken_id = held->info().id;
    waiting_thread<sqlpool::pool> waiter{pool};
    BOOST_TEST_REQUIRE(eventually([&] { return pool.stats().waiting == 1u; }));
    (*held)->mark_broken(sqlpool::result_code::ioerr_read);
    held.reset(); // closed: its capacity goes to the waiter, who opens a new connection
    BOOST_TEST_REQUIRE(eventually([&] { return waiter.got_id != 0u; }));
    BOOST_TEST(waiter.got_id != broken_id);
    const sqlpool::pool_stats stats = pool.stats();
    BOOST_TEST(stats.closed.broken == 1u);
    BOOST_TEST(stats.created == 2u);
    sqlpool_test::check_conservation(stats);
}

BOOST_AUTO_TEST_CASE(a_return_after_close_closes_the_connection) {
    sqlpool::pool pool{small_config(path, 2, 2)};
    std::optional<sqlpool::lease> held = pool.acquire();
    BOOST_TEST(!pool.close(0ms).complete); // one lease is still out
    BOOST_TEST(pool.stats().total == 1u);
    std::thread([&] { held.reset(); }).join(); // returned on another thread
    const sqlpool::pool_stats stats = pool.stats();
    BOOST_TEST(stats.total == 0u);
    BOOST_TEST(stats.closed.shutdown == 2u);
    sqlpool_test::check_conservation(stats);
}

BOOST_AUTO_TEST_SUITE_END()
