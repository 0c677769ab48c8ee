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
#include <string>
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
    const bool all_closed = pool.close(std::chrono::nanoseconds::max()).complete;
    returner.join();
    BOOST_TEST(all_closed);
    BOOST_TEST(pool.stats().total == 0u);
}

BOOST_AUTO_TEST_CASE(close_with_outstanding_leases) {
    sqlpool::pool pool{small_config(path, 2, 2)};
    auto held = pool.acquire();
    BOOST_TEST(!pool.close(10ms).complete); // the lease is still out
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
    BOOST_TEST(pool.close(0ms).complete); // now everything is closed
}

BOOST_AUTO_TEST_CASE(close_without_leases_closes_everything) {
    sqlpool::pool pool{small_config(path, 3, 3)};
    BOOST_TEST(pool.close(0ms).complete);
    const auto s = pool.stats();
    BOOST_TEST(s.total == 0u);
    BOOST_TEST(s.closed.shutdown == 3u);
    BOOST_TEST(pool.close().complete); // idempotent
    pool.maintain();                   // a closed pool does not replenish
    BOOST_TEST(pool.stats().total == 0u);
}

BOOST_AUTO_TEST_CASE(close_waits_for_a_lease_returned_on_another_thread) {
    sqlpool::pool pool{small_config(path, 1, 1)};
    std::optional<sqlpool::lease> held = pool.acquire();
    std::jthread returner([&] {
        (void)eventually([&] { return pool.closed(); });
        held.reset();
    });
    BOOST_TEST(pool.close(30s).complete);
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
    BOOST_TEST(!pool.close(1ms).complete); // wakes the waiters; the held lease is still out
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
    std::jthread closer([&] { all_closed = pool.close(20s).complete; });
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
    std::jthread closer([&] { all_closed = pool.close(20s).complete; });
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

// Who holds what, and the nested acquire that would wait for itself (issue 15, items 1 and 2).
BOOST_FIXTURE_TEST_SUITE(holders_and_nested_acquires, sqlpool_test::pool_fixture)

// Both holders ask for a second lease while holding their first: without the check each waits for
// the other for good (acquire_timeout is an hour). The one that completes the cycle fails at once,
// its first lease goes back as it unwinds, and the other gets it. The watchdog closes the pool
// after 20 s, which ends such waits with pool_closed_error, so that the test fails instead of hanging.
BOOST_AUTO_TEST_CASE(holders_that_all_ask_again_do_not_wait_for_each_other_for_good) {
    sqlpool::pool pool(sqlpool::pool_config{.database = path, .max_connections = 2, .acquire_timeout = 1h});
    std::atomic<int> holding{0};
    std::atomic<int> nested{0};
    std::atomic<int> second{0};
    std::atomic<int> other{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 2; ++t)
        threads.emplace_back([&] {
            try {
                auto first = pool.acquire();
                ++holding;
                while (holding.load() < 2) std::this_thread::yield();
                auto again = pool.acquire();
                ++second;
            } catch (const sqlpool::nested_acquire_error& e) {
                const bool names_both =
                    std::string(e.what()).find("pool_core_test.cpp") != std::string::npos &&
                    e.held_at().line() != e.asked_at().line();
                ++(names_both ? nested : other);
            } catch (...) {
                ++other;
            }
        });
    const bool done = eventually([&] { return nested.load() + second.load() + other.load() == 2; }, 20s);
    if (!done) pool.close(0ms); // the watchdog
    for (auto& t : threads) t.join();
    BOOST_TEST(done);
    BOOST_TEST(nested.load() == 1);
    BOOST_TEST(second.load() == 1);
    BOOST_TEST(other.load() == 0);
}

// One spare lease is held by a thread that does not wait: a nested acquire then waits for it, as
// it should (it comes back).
BOOST_AUTO_TEST_CASE(a_nested_acquire_waits_while_some_holder_is_not_waiting) {
    sqlpool::pool pool(sqlpool::pool_config{.database = path, .max_connections = 2, .acquire_timeout = 1h});
    auto first = pool.acquire();
    std::atomic<bool> holding{false};
    std::atomic<bool> give_back{false};
    std::thread other([&] {
        auto lease = pool.acquire();
        holding = true;
        (void)eventually([&] { return give_back.load(); });
    });
    BOOST_TEST(eventually([&] { return holding.load(); }));
    std::thread releaser([&] {
        (void)eventually([&] { return pool.stats().waiting == 1; });
        give_back = true;
    });
    auto second = pool.acquire(); // waits until the other thread gives its lease back
    BOOST_TEST(second->query_value<std::int64_t>("SELECT 1") == 1);
    releaser.join();
    other.join();
}

BOOST_AUTO_TEST_CASE(a_second_lease_is_fine_while_the_pool_has_room_and_the_check_can_be_turned_off) {
    sqlpool::pool pool(sqlpool::pool_config{
        .database = path, .busy_timeout = 10ms, .max_connections = 2, .acquire_timeout = 50ms});
    auto first = pool.acquire();
    auto second = pool.acquire(); // room for it: no deadlock to detect
    BOOST_CHECK_THROW((void)pool.acquire(), sqlpool::nested_acquire_error);
    BOOST_TEST(pool.stats().waiting == 0u);
    BOOST_TEST(pool.stats().timeouts == 0u);
    second.release();
    BOOST_TEST(pool.acquire()->query_value<std::int64_t>("SELECT 1") == 1);

    sqlpool::pool trusting(sqlpool::pool_config{.database = path,
                                                .busy_timeout = 10ms,
                                                .max_connections = 1,
                                                .acquire_timeout = 50ms,
                                                .detect_nested_acquire = false});
    auto held = trusting.acquire();
    BOOST_CHECK_THROW((void)trusting.acquire(), sqlpool::timeout_error); // it waited, as asked
}

// A holder on another thread is not this thread's: the waiter waits, and its timeout names the
// holder and where it acquired.
BOOST_AUTO_TEST_CASE(a_timeout_names_the_longest_holder_and_where_it_acquired) {
    sqlpool::pool pool(sqlpool::pool_config{
        .database = path, .busy_timeout = 10ms, .max_connections = 1, .acquire_timeout = 100ms});
    std::atomic<bool> holding{false};
    std::atomic<bool> done{false};
    std::thread holder([&] {
        auto lease = pool.acquire(); // the line the timeout must name
        holding = true;
        (void)eventually([&] { return done.load(); });
    });
    BOOST_TEST(eventually([&] { return holding.load(); }));
    try {
        (void)pool.acquire();
        BOOST_FAIL("acquire() did not time out");
    } catch (const sqlpool::timeout_error& e) {
        BOOST_TEST_MESSAGE(e.what());
        BOOST_TEST_REQUIRE(e.holders().size() == 1u);
        BOOST_TEST(std::string(e.holders()[0].where.file_name()).find("pool_core_test.cpp") !=
                   std::string::npos);
        BOOST_TEST(e.holders()[0].thread != std::this_thread::get_id());
        BOOST_TEST(std::string(e.what()).find("longest holder: thread") != std::string::npos);
        BOOST_TEST(
            std::string(e.what()).find("pool_core_test.cpp:" + std::to_string(e.holders()[0].where.line())) !=
            std::string::npos);
    }
    done = true;
    holder.join();
}

BOOST_AUTO_TEST_SUITE_END()
