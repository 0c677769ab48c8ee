// pool: the basic_pool facade: constructor validation, acquire() and try_acquire() with their
// timeouts and timeout_error, what the single_thread locking policy changes (no waiting, no
// maintenance thread), the default clock, and the leases it hands out. The facade's parts are
// tested by their own files (pool_open_test, pool_return_test, pool_maintenance_test,
// pool_waiters_test, pool_slots_test, pool_core_test).
#define BOOST_TEST_MODULE pool
#include <boost/test/unit_test.hpp>

#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <source_location>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include <range/v3/action/remove_if.hpp>
#include <range/v3/algorithm/is_sorted.hpp>
#include <range/v3/algorithm/sort.hpp>
#include <range/v3/range/conversion.hpp>
#include <range/v3/view/filter.hpp>
#include <range/v3/view/transform.hpp>

#include "support/pool_helpers.hpp"

import sqlpool;

using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

namespace {

using sqlpool_test::small_config;

// Connections closed in a process other than the one that opened them (SQLITE_TRACE_CLOSE, whose
// context is the opener's pid): what a forked child must never do.
std::atomic<int> foreign_closes{0};
int on_trace(unsigned /*event*/, void* opener, void* /*db*/, void* /*unused*/) {
    if (static_cast<pid_t>(reinterpret_cast<std::intptr_t>(opener)) != ::getpid()) ++foreign_closes;
    return 0;
}

// What the child does with the pool it inherited; its exit status says what went wrong.
template <class Pool>
int use_pool_in_child(Pool& pool, sqlpool::lease& inherited) {
    try {
        (void)inherited->query_value<std::int64_t>("SELECT 1");
        return 10; // the parent's connection was used
    } catch (const sqlpool::misuse_error&) {
    }
    try {
        pool.write([](sqlpool::connection& c) { c.exec("INSERT INTO items(tag) VALUES ('child')"); });
        if (pool.read([](sqlpool::connection& c) {
                return c.query_value<std::int64_t>("SELECT count(*) FROM items");
            }) < 1)
            return 11;
        inherited.release(); // back to the parent's core: left alone
        if (pool.stats().created < 1) return 12;
        if (!pool.close()) return 13;
    } catch (...) {
        return 14;
    }
    return foreign_closes.load() == 0 ? 0 : 15;
}

} // namespace

// ---------------------------------------------------------------------------------------------
BOOST_FIXTURE_TEST_SUITE(basics, sqlpool_test::pool_fixture)

BOOST_AUTO_TEST_CASE(invalid_config_throws_config_error_listing_all) {
    auto config = small_config(path, 5, 4);
    config.acquire_timeout = 0ms;
    try {
        sqlpool::pool pool{config};
        BOOST_FAIL("no config_error");
    } catch (const sqlpool::config_error& e) {
        BOOST_TEST(e.problems().size() == 2u);
        const std::string what = e.what();
        BOOST_TEST(what.find("min_connections (5) exceeds max_connections (4)") != std::string::npos);
        BOOST_TEST(what.find("acquire_timeout must be positive") != std::string::npos);
    }
    BOOST_TEST(!std::filesystem::exists(path)); // nothing was opened
}

// connections() and holders() are snapshots that range-v3 views filter, project and sort.
BOOST_AUTO_TEST_CASE(snapshots_compose_with_range_v3_views) {
    sqlpool::pool pool{small_config(path, 3, 4)};
    const auto first_line = std::source_location::current().line() + 1;
    auto first = pool.acquire();
    std::jthread([&] {
        const auto other_line = std::source_location::current().line() + 1;
        auto second = pool.acquire();
        // A snapshot is a std::vector: range-v3 refuses a view over a temporary one (it would
        // dangle), so views take it by name; actions take the temporary itself.
        const auto snapshot = pool.connections();
        auto leased_lines = snapshot | ranges::views::filter([](const sqlpool::connection_snapshot& c) {
                                return c.holder.has_value();
                            }) |
                            ranges::views::transform([](const sqlpool::connection_snapshot& c) {
                                return c.holder->where.line();
                            }) |
                            ranges::to<std::vector>();
        ranges::sort(leased_lines);
        BOOST_TEST((leased_lines == std::vector<std::uint_least32_t>{first_line, other_line}));
        const auto holders = pool.holders();
        BOOST_TEST(holders.size() == 2u);
        BOOST_TEST(ranges::is_sorted(holders, std::greater{}, &sqlpool::lease_holder::held_for));
        const auto mine = holders | ranges::views::filter([](const sqlpool::lease_holder& h) {
                              return h.thread == std::this_thread::get_id();
                          }) |
                          ranges::to<std::vector>();
        BOOST_TEST(mine.size() == 1u);
        BOOST_TEST(mine.at(0).where.line() == other_line);
    }).join();
    const auto idle =
        pool.connections() | ranges::actions::remove_if([](const sqlpool::connection_snapshot& c) {
            return c.use != sqlpool::connection_use::idle;
        });
    BOOST_TEST(idle.size() == pool.stats().total - 1); // one is leased
    first.release();
    BOOST_TEST(pool.holders().empty());
}

BOOST_AUTO_TEST_CASE(lease_accessors_and_moves) {
    sqlpool::pool pool{small_config(path, 1, 2)};
    auto lease = pool.acquire();
    BOOST_TEST(static_cast<bool>(lease));
    BOOST_TEST(&*lease == &lease.get());
    BOOST_TEST(lease.operator->() == &lease.get());
    const auto id = lease.info().id;

    sqlpool::lease moved = std::move(lease);
    BOOST_TEST(!lease);
    BOOST_TEST(moved.info().id == id);
    BOOST_TEST(pool.stats().in_use == 1u);

    // Move-assigning over a lease returns the connection it held.
    sqlpool::lease other = pool.acquire();
    BOOST_TEST(pool.stats().in_use == 2u);
    other = std::move(moved);
    BOOST_TEST(other.info().id == id);
    BOOST_TEST(pool.stats().in_use == 1u);
    BOOST_TEST(pool.stats().idle == 1u);

    // release() returns early, and twice is harmless.
    other.release();
    other.release();
    BOOST_TEST(!other);
    BOOST_TEST(pool.stats().in_use == 0u);
}

BOOST_AUTO_TEST_CASE(empty_lease_is_a_misuse) {
    sqlpool::pool pool{small_config(path, 1, 1)};
    auto lease = pool.acquire();
    auto moved = std::move(lease);
    BOOST_CHECK_THROW((void)lease->changes(), sqlpool::misuse_error);
    BOOST_CHECK_THROW((void)*lease, sqlpool::misuse_error);
    BOOST_CHECK_THROW((void)lease.info(), sqlpool::misuse_error);
    moved.release();
    BOOST_TEST(!moved);
    BOOST_CHECK_THROW((void)moved.get(), sqlpool::misuse_error);
    const sqlpool::lease never_filled;
    BOOST_CHECK_THROW((void)never_filled.get(), sqlpool::misuse_error);
}

BOOST_AUTO_TEST_CASE(timeout_error_carries_wait_and_stats) {
    auto config = small_config(path, 1, 1);
    config.detect_nested_acquire = false; // this thread holds the one lease itself
    sqlpool::pool pool{config};
    auto held = pool.acquire();
    try {
        (void)pool.acquire(20ms);
        BOOST_FAIL("no timeout_error");
    } catch (const sqlpool::timeout_error& e) {
        BOOST_TEST(e.waited().count() > 0);
        BOOST_TEST(e.stats().in_use == 1u);
        BOOST_TEST(e.stats().idle == 0u);
        BOOST_TEST(e.stats().max_connections == 1u);
        BOOST_TEST(e.stats().timeouts == 1u); // the snapshot includes this timeout
        BOOST_TEST(std::string(e.what()).find("max_connections 1") != std::string::npos);
    }
    const auto s = pool.stats();
    BOOST_TEST(s.timeouts == 1u);
    BOOST_TEST(s.waiting == 0u);
    BOOST_TEST(s.acquired == 1u);
}

BOOST_AUTO_TEST_CASE(timeout_error_is_an_sqlpool_error) {
    sqlpool::pool pool{small_config(path, 1, 1)};
    auto held = pool.acquire();
    BOOST_CHECK_THROW((void)pool.acquire(1ms), sqlpool::error);
}

BOOST_AUTO_TEST_CASE(try_acquire_returns_nullopt_instead_of_throwing) {
    sqlpool::pool pool{small_config(path, 1, 1)};
    auto first = pool.try_acquire();
    BOOST_TEST_REQUIRE(first.has_value());
    BOOST_TEST(!pool.try_acquire().has_value());    // no wait at all
    BOOST_TEST(!pool.try_acquire(5ms).has_value()); // a short wait
    BOOST_TEST(pool.stats().timeouts == 2u);
    first.reset();
    auto second = pool.try_acquire();
    BOOST_TEST_REQUIRE(second.has_value());
    BOOST_TEST(second->info().id == 1u);
}

BOOST_AUTO_TEST_CASE(single_thread_policy_throws_at_once_when_exhausted) {
    auto config = small_config(path, 1, 1);
    config.acquire_timeout = 1h; // would hang a waiting pool
    sqlpool::basic_pool<sqlpool::locking::single_thread> pool{config};
    auto held = pool.acquire();
    try {
        (void)pool.acquire();
        BOOST_FAIL("no timeout_error");
    } catch (const sqlpool::timeout_error& e) {
        BOOST_TEST(e.waited().count() == 0);
        BOOST_TEST(e.stats().in_use == 1u);
    }
    BOOST_TEST(!pool.try_acquire(1h).has_value());
    BOOST_TEST(pool.stats().timeouts == 2u);
    held.release();
    BOOST_TEST(pool.try_acquire().has_value());
}

BOOST_AUTO_TEST_CASE(single_thread_policy_runs_no_background_maintenance) {
    auto config = small_config(path, 2, 2);
    config.background_maintenance = true; // ignored: a single_thread pool starts no thread
    config.maintenance_interval = 1ms;
    sqlpool::basic_pool<sqlpool::locking::single_thread, sqlpool::health::no_check,
                        sqlpool::recycling::max_uses<1>>
        pool{config};
    pool.acquire().release(); // retired on return: 1 left, below min
    BOOST_TEST(pool.stats().total == 1u);
    std::this_thread::sleep_for(50ms); // a background thread would have replenished by now
    BOOST_TEST(pool.stats().total == 1u);
    pool.maintain();
    BOOST_TEST(pool.stats().total == 2u);
}

// The default clock reads CLOCK_MONOTONIC_COARSE: steady_clock's timeline, a tick behind at most.
BOOST_AUTO_TEST_CASE(coarse_clock_is_on_the_steady_clock_timeline) {
    for (int i = 0; i < 1000; ++i) {
        const auto coarse = sqlpool::coarse_steady_clock::now();
        const auto precise = steady::now();
        BOOST_TEST_REQUIRE((coarse <= precise));
        BOOST_TEST_REQUIRE((precise - coarse < 1s)); // a tick is 1 to 10 ms
    }
    static_assert(std::is_same_v<sqlpool::pool::clock_type, sqlpool::coarse_steady_clock>);
}

// A child that fork() creates neither uses nor closes the connections it inherited: a lease
// taken before the fork refuses to run, the pool opens connections of its own, and the parent's
// go on working (https://sqlite.org/howtocorrupt.html#fork). Another thread of the parent holds a
// lease when it forks; it is outside SQLite at that moment, as POSIX asks of a threaded program
// that forks (SQLite's own global mutexes are not fork-safe). No maintenance thread: the child
// would start one, which ThreadSanitizer does not allow.
BOOST_AUTO_TEST_CASE(a_forked_child_leaves_the_parents_connections_alone) {
    sqlpool::pool pool{sqlpool::pool_config{
        .database = path,
        .min_connections = 2,
        .max_connections = 4,
        .background_maintenance = false,
        .on_connect = [](sqlpool::connection& c) {
            sqlite3_trace_v2(c.native_handle(), SQLITE_TRACE_CLOSE, &on_trace,
                             reinterpret_cast<void*>(static_cast<std::intptr_t>(::getpid())));
        }}};
    pool.write(
        [](sqlpool::connection& c) { c.exec("CREATE TABLE items(id INTEGER PRIMARY KEY, tag TEXT)"); });
    std::atomic<int> phase{0}; // 0 run, 1 pause asked, 2 paused holding a lease, 3 stop
    std::thread busy([&] {
        while (phase.load() != 3) {
            auto lease = pool.acquire();
            lease->exec("INSERT INTO items(tag) VALUES ('parent')");
            int asked = 1;
            if (phase.compare_exchange_strong(asked, 2))
                while (phase.load() == 2) std::this_thread::sleep_for(1ms);
        }
    });
    std::optional<sqlpool::lease> inherited = pool.acquire();
    phase = 1;
    BOOST_REQUIRE(sqlpool_test::eventually([&] { return phase.load() == 2; }));
    const pid_t child = ::fork();
    BOOST_REQUIRE(child >= 0);
    if (child == 0) ::_exit(use_pool_in_child(pool, *inherited));
    phase = 3;
    int status = 0;
    BOOST_REQUIRE(::waitpid(child, &status, 0) == child);
    BOOST_TEST(WIFEXITED(status),
               "the child was killed by signal " << (WIFSIGNALED(status) ? WTERMSIG(status) : 0));
    if (WIFEXITED(status)) BOOST_TEST(WEXITSTATUS(status) == 0);
    busy.join();
    BOOST_TEST((*inherited)->query_value<std::int64_t>("SELECT count(*) FROM items WHERE tag = 'child'") ==
               1);
    inherited.reset();
    pool.write([](sqlpool::connection& c) { c.exec("INSERT INTO items(tag) VALUES ('after')"); });
    BOOST_TEST(foreign_closes.load() == 0);
}

BOOST_AUTO_TEST_SUITE_END()
