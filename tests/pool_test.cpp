// Pool-layer tests: acquire/release, timeouts, FIFO waiters, reset on return, health and recycling
// (driven by a manual clock and by maintain()), close(), leases outliving their pool, and a
// concurrency stress test.
//
// Stress scale: 32 threads x 2000 acquire/release cycles in every build (dev, ASan, TSan); set
// SQLPOOL_STRESS_SCALE (a positive integer) to multiply the cycle count for a longer local run.

#define BOOST_TEST_MODULE pool
#include <boost/test/unit_test.hpp>

#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <tuple>
#include <type_traits>
#include <vector>

#include "support/manual_clock.hpp"
#include "support/temp_dir.hpp"

import sqlpool;

using namespace std::chrono_literals;
using sqlpool_test::manual_clock;
using steady = std::chrono::steady_clock;

namespace {

sqlpool::pool_config small_config(const std::string& path, std::size_t min, std::size_t max) {
    return sqlpool::pool_config{.database = path,
                                .min_connections = min,
                                .max_connections = max,
                                .acquire_timeout = 3s,
                                .background_maintenance = false};
}

// Polls `done` until it holds, for at most `limit`: every wait on another thread is bounded.
template <class Predicate>
bool eventually(Predicate done, std::chrono::milliseconds limit = 20s) {
    const auto deadline = steady::now() + limit;
    while (!done()) {
        if (steady::now() >= deadline) return false;
        std::this_thread::sleep_for(200us);
    }
    return true;
}

// Every connection the pool opened is either still open or was closed for a counted reason.
void check_conservation(const sqlpool::pool_stats& s) {
    BOOST_TEST(s.created == s.total + s.closed.total());
    BOOST_TEST(s.idle + s.in_use == s.total);
}

// Health state a test flips while the pool runs; the pool's copy of the policy shares it.
struct health_state {
    std::atomic<std::uint64_t> failing_id{0}; // 0: none
    std::atomic<bool> fail_all{false};
    std::atomic<bool> throw_instead{false};
    std::atomic<int> checkout_checks{0};
    std::atomic<int> return_checks{0};
    std::atomic<int> periodic_checks{0};
};

template <sqlpool::check_point When>
struct switchable_health {
    static constexpr sqlpool::check_point when = When;
    std::shared_ptr<health_state> state = std::make_shared<health_state>();

    sqlpool::health_status check(sqlpool::connection&, const sqlpool::connection_info& info,
                                 sqlpool::check_point point) const {
        switch (point) {
        case sqlpool::check_point::on_checkout:
            ++state->checkout_checks;
            break;
        case sqlpool::check_point::on_return:
            ++state->return_checks;
            break;
        case sqlpool::check_point::periodic:
            ++state->periodic_checks;
            break;
        case sqlpool::check_point::none:
            break;
        }
        if (state->throw_instead) throw std::runtime_error("health check threw");
        return state->fail_all || info.id == state->failing_id ? sqlpool::health_status::unhealthy
                                                               : sqlpool::health_status::healthy;
    }
};

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

using checkout_health = switchable_health<sqlpool::check_point::on_checkout>;
using return_health = switchable_health<sqlpool::check_point::on_return>;
using periodic_health = switchable_health<sqlpool::check_point::periodic>;

template <class Health = sqlpool::health::no_check, class Recycling = sqlpool::recycling::standard>
using clocked_pool = sqlpool::basic_pool<sqlpool::locking::std_mutex, Health, Recycling,
                                         sqlpool::isolation::deferred, sqlpool::queue::barging, manual_clock>;

template <std::uint64_t N>
using uses_pool = sqlpool::basic_pool<sqlpool::locking::std_mutex, sqlpool::health::no_check,
                                      sqlpool::recycling::max_uses<N>>;

struct fixture {
    sqlpool_test::temp_dir dir{"pool"};
    std::string path = dir.file("pool.db");
};

int stress_scale() {
    const char* text = std::getenv("SQLPOOL_STRESS_SCALE");
    const int scale = text != nullptr ? std::atoi(text) : 1;
    return std::clamp(scale, 1, 1000);
}

} // namespace

// ---------------------------------------------------------------------------------------------
BOOST_FIXTURE_TEST_SUITE(basics, fixture)

BOOST_AUTO_TEST_CASE(construction_opens_min_connections) {
    sqlpool::pool pool{small_config(path, 3, 4)};
    const auto s = pool.stats();
    BOOST_TEST(s.total == 3u);
    BOOST_TEST(s.idle == 3u);
    BOOST_TEST(s.in_use == 0u);
    BOOST_TEST(s.created == 3u);
    BOOST_TEST(s.max_connections == 4u);
    BOOST_TEST(s.acquired == 0u);
    check_conservation(s);
}

BOOST_AUTO_TEST_CASE(construction_opens_nothing_with_min_zero) {
    sqlpool::pool pool{small_config(path, 0, 2)};
    BOOST_TEST(pool.stats().total == 0u);
    BOOST_TEST(pool.stats().created == 0u);
}

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

BOOST_AUTO_TEST_CASE(unopenable_database_fails_at_construction) {
    const auto missing = dir.file("missing/dir/x.db");
    BOOST_CHECK_THROW(sqlpool::pool(small_config(missing, 1, 2)), sqlpool::sqlite_error);
    BOOST_TEST(!std::filesystem::exists(dir.path() / "missing"));
}

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
    sqlpool::pool pool{small_config(path, 1, 1)};
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

BOOST_AUTO_TEST_CASE(on_connect_runs_once_per_new_connection) {
    auto config = small_config(path, 2, 3);
    auto calls = std::make_shared<std::atomic<int>>(0);
    config.on_connect = [calls](sqlpool::connection& c) {
        ++*calls;
        c.exec("CREATE TABLE IF NOT EXISTS hook(v)");
        c.exec("CREATE TEMP TABLE mine(v)"); // per connection: fails if run twice on one
    };
    sqlpool::pool pool{config};
    BOOST_TEST(*calls == 2);
    {
        auto a = pool.acquire();
        auto b = pool.acquire();
        BOOST_TEST(*calls == 2); // reused, not opened
        auto c = pool.acquire(); // third: opened now
        BOOST_TEST(*calls == 3);
        BOOST_TEST(c->query_value<std::int64_t>("SELECT count(*) FROM mine") == 0);
    }
    for (int i = 0; i < 5; ++i) pool.acquire().release();
    BOOST_TEST(*calls == 3);
    BOOST_TEST(pool.stats().created == 3u);
}

BOOST_AUTO_TEST_CASE(on_connect_runs_for_replacement_connections) {
    auto config = small_config(path, 1, 1);
    auto calls = std::make_shared<std::atomic<int>>(0);
    config.on_connect = [calls](sqlpool::connection&) { ++*calls; };
    uses_pool<1> pool{config};
    for (int i = 0; i < 3; ++i) pool.acquire().release(); // each retires on return
    BOOST_TEST(*calls == 3);
    BOOST_TEST(pool.stats().closed.uses == 3u);
}

BOOST_AUTO_TEST_CASE(open_failure_during_acquire_releases_the_capacity) {
    auto config = small_config(path, 1, 2);
    auto fail = std::make_shared<std::atomic<bool>>(false);
    config.on_connect = [fail](sqlpool::connection&) {
        if (*fail) throw std::runtime_error("on_connect failed");
    };
    sqlpool::pool pool{config};
    auto first = pool.acquire();
    *fail = true;
    BOOST_CHECK_THROW((void)pool.acquire(), std::runtime_error);
    auto s = pool.stats();
    BOOST_TEST(s.open_failures == 1u);
    BOOST_TEST(s.total == 1u); // the reserved capacity is free again
    BOOST_TEST(s.in_use == 1u);
    BOOST_TEST(s.created == 1u);
    *fail = false;
    auto second = pool.acquire();
    BOOST_TEST(second.info().id == 2u);
    BOOST_TEST(pool.stats().total == 2u);
    check_conservation(pool.stats());
}

BOOST_AUTO_TEST_CASE(failed_open_is_not_counted_as_acquired) {
    // pool_stats::acquired counts "leases handed out"; an acquire whose connection failed to open
    // handed out nothing.
    auto config = small_config(path, 1, 2);
    auto fail = std::make_shared<std::atomic<bool>>(false);
    config.on_connect = [fail](sqlpool::connection&) {
        if (*fail) throw std::runtime_error("on_connect failed");
    };
    sqlpool::pool pool{config};
    auto first = pool.acquire();
    *fail = true;
    BOOST_CHECK_THROW((void)pool.acquire(), std::runtime_error);
    BOOST_TEST(pool.stats().acquired == 1u);
}

// What on_connect throws reaches the caller as a sqlpool::error, with the original nested in it:
// `catch (const sqlpool::error&)` catches everything the pool throws.
std::string nested_message(const sqlpool::error& e) {
    try {
        std::rethrow_if_nested(e);
    } catch (const std::exception& original) {
        return original.what();
    }
    return "(nothing nested)";
}

BOOST_AUTO_TEST_CASE(on_connect_exception_is_a_sqlpool_error_in_the_constructor) {
    auto config = small_config(path, 1, 2);
    config.on_connect = [](sqlpool::connection&) { throw std::invalid_argument("hook refused"); };
    std::string nested = "(not caught as sqlpool::error)";
    try {
        sqlpool::pool pool{config};
    } catch (const sqlpool::error& e) {
        nested = nested_message(e);
        BOOST_TEST(std::string(e.what()).find("on_connect") != std::string::npos);
    }
    BOOST_TEST(nested == "hook refused");
}

BOOST_AUTO_TEST_CASE(on_connect_exception_is_a_sqlpool_error_in_acquire) {
    auto config = small_config(path, 1, 2);
    auto fail = std::make_shared<std::atomic<bool>>(false);
    config.on_connect = [fail](sqlpool::connection&) {
        if (*fail) throw 42; // not even a std::exception
    };
    sqlpool::pool pool{config};
    auto first = pool.acquire();
    *fail = true;
    bool caught = false;
    try {
        (void)pool.acquire();
    } catch (const sqlpool::error& e) {
        caught = true;
        try {
            std::rethrow_if_nested(e);
        } catch (int original) {
            BOOST_TEST(original == 42);
        }
    }
    BOOST_TEST(caught);
    BOOST_TEST(pool.stats().total == 1u); // the reserved capacity is free again
}

// min_connections = 0: nothing opens until the first acquire, which fails clearly when the
// database cannot be opened.
BOOST_AUTO_TEST_CASE(min_connections_zero_opens_nothing_until_the_first_acquire) {
    const std::string file = (dir.path() / "lazy.db").string();
    auto config = small_config(file, 0, 2);
    auto opened = std::make_shared<std::atomic<int>>(0);
    config.on_connect = [opened](sqlpool::connection&) { ++*opened; };
    sqlpool::pool pool{config};
    BOOST_TEST(*opened == 0);
    BOOST_TEST(pool.stats().total == 0u);
    BOOST_TEST(!std::filesystem::exists(file));
    pool.acquire()->exec("CREATE TABLE t(x)");
    BOOST_TEST(*opened == 1);
    BOOST_TEST(std::filesystem::exists(file));
}

BOOST_AUTO_TEST_CASE(min_connections_zero_fails_on_the_first_acquire_when_the_file_cannot_open) {
    auto config = small_config((dir.path() / "missing-dir" / "x.db").string(), 0, 2);
    sqlpool::pool pool{config}; // opens nothing, so nothing fails yet
    BOOST_CHECK_EXCEPTION((void)pool.acquire(), sqlpool::sqlite_error, [](const sqlpool::sqlite_error& e) {
        return e.code() == sqlpool::result_code::cantopen;
    });
    BOOST_TEST(pool.stats().total == 0u);
    BOOST_TEST(pool.stats().open_failures == 1u);
}

BOOST_AUTO_TEST_CASE(memory_database_is_shared_by_the_pool) {
    sqlpool::pool pool{small_config(":memory:", 1, 2)};
    auto a = pool.acquire();
    auto b = pool.acquire();
    BOOST_TEST(a.info().id != b.info().id);
    BOOST_TEST(a.info().file_inode == 0u);
    a->exec("CREATE TABLE shared(v INTEGER)");
    a->exec("INSERT INTO shared VALUES(7)");
    BOOST_TEST(b->query_value<std::int64_t>("SELECT v FROM shared") == 7);
}

BOOST_AUTO_TEST_CASE(memory_database_outlives_its_connections_while_the_pool_lives) {
    uses_pool<1> pool{small_config(":memory:", 1, 1)};
    pool.acquire()->exec("CREATE TABLE kept(v INTEGER); INSERT INTO kept VALUES(1);");
    BOOST_TEST(pool.stats().total == 0u); // the only connection retired on return
    auto fresh = pool.acquire();
    BOOST_TEST(fresh.info().id == 2u);
    BOOST_TEST(fresh->query_value<std::int64_t>("SELECT count(*) FROM kept") == 1);
}

BOOST_AUTO_TEST_CASE(two_memory_pools_do_not_share_a_database) {
    sqlpool::pool one{small_config(":memory:", 1, 1)};
    sqlpool::pool two{small_config(":memory:", 1, 1)};
    one.acquire()->exec("CREATE TABLE only_in_one(v)");
    BOOST_TEST(two.acquire()->query_value<std::int64_t>(
                   "SELECT count(*) FROM sqlite_master WHERE name = 'only_in_one'") == 0);
}

BOOST_AUTO_TEST_CASE(file_named_like_memory_is_a_file) {
    sqlpool_test::temp_dir dir{"pool"};
    const auto path = dir.file("cache:memory:.db");
    {
        sqlpool::pool pool{small_config(path, 1, 2)};
        pool.acquire()->exec("CREATE TABLE on_disk(v INTEGER); INSERT INTO on_disk VALUES(3);");
        BOOST_TEST(pool.acquire().info().file_inode != 0u);
    }
    sqlpool::pool reopened{small_config(path, 1, 1)};
    BOOST_TEST(reopened.acquire()->query_value<std::int64_t>("SELECT v FROM on_disk") == 3);
}

BOOST_AUTO_TEST_CASE(private_memory_uri_is_refused) {
    BOOST_CHECK_THROW(sqlpool::pool(small_config("file::memory:", 1, 2)), sqlpool::config_error);
    BOOST_CHECK_THROW(sqlpool::pool(small_config("file::memory:?cache=shared", 1, 2)), sqlpool::config_error);
    BOOST_CHECK_THROW(sqlpool::pool(small_config("file:x?mode=memory", 1, 2)), sqlpool::config_error);
}

BOOST_AUTO_TEST_CASE(named_memdb_uri_is_shared) {
    const std::string uri = "file:/sqlpool-pool-test-" + std::to_string(::getpid()) + "?vfs=memdb";
    sqlpool::pool pool{small_config(uri, 1, 2)};
    auto a = pool.acquire();
    auto b = pool.acquire();
    a->exec("CREATE TABLE named(v)");
    BOOST_TEST(b->query_value<std::int64_t>("SELECT count(*) FROM named") == 0);
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------------------------------------
BOOST_FIXTURE_TEST_SUITE(reset_on_return, fixture)

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
BOOST_FIXTURE_TEST_SUITE(health_and_recycling, fixture)

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

BOOST_AUTO_TEST_CASE(periodic_check_runs_when_due_and_retires_unhealthy_idle_connections) {
    manual_clock clock;
    auto config = small_config(path, 2, 3);
    config.health_check_interval = 30s;
    clocked_pool<periodic_health, sqlpool::recycling::never> pool{config, {}, {}, clock};
    const auto& state = *pool.health_policy().state;
    pool.maintain();
    BOOST_TEST(state.periodic_checks == 0);
    clock.advance(29s);
    pool.maintain();
    BOOST_TEST(state.periodic_checks == 0); // not due yet
    clock.advance(1s);
    pool.maintain();
    BOOST_TEST(state.periodic_checks == 2);
    pool.maintain();
    BOOST_TEST(state.periodic_checks == 2); // just checked

    // Leased connections are not checked.
    {
        auto held = pool.acquire();
        clock.advance(30s);
        pool.maintain();
        BOOST_TEST(state.periodic_checks == 3);
    }

    pool.health_policy().state->failing_id = 1;
    clock.advance(30s);
    pool.maintain();
    const auto s = pool.stats();
    BOOST_TEST(state.periodic_checks == 5);
    BOOST_TEST(s.closed.unhealthy == 1u);
    BOOST_TEST(s.failed_health_checks == 1u);
    BOOST_TEST(s.total == 2u); // replenished to min
    BOOST_TEST(s.created == 3u);
    BOOST_TEST(s.idle == 2u);
    check_conservation(s);
    auto a = pool.acquire();
    auto b = pool.acquire();
    BOOST_TEST(a.info().id != 1u);
    BOOST_TEST(b.info().id != 1u);
}

BOOST_AUTO_TEST_CASE(maintain_accepts_an_explicit_time) {
    auto config = small_config(path, 1, 1);
    config.health_check_interval = 30s;
    clocked_pool<periodic_health, sqlpool::recycling::never> pool{config};
    const auto created = pool.acquire().info().created_at;
    pool.maintain(created + 29s);
    BOOST_TEST(pool.health_policy().state->periodic_checks == 0);
    pool.maintain(created + 30s);
    BOOST_TEST(pool.health_policy().state->periodic_checks == 1);
}

BOOST_AUTO_TEST_CASE(file_identity_retires_connections_to_a_replaced_file) {
    manual_clock clock;
    auto config = small_config(path, 2, 2);
    config.journal = sqlpool::journal_mode::delete_journal; // no -wal file left to mismatch
    config.health_check_interval = 1s;
    clocked_pool<sqlpool::health::file_identity, sqlpool::recycling::never> pool{config, {}, {}, clock};
    pool.acquire()->exec("CREATE TABLE old(v)");
    const auto replacement = dir.file("replacement.db");
    {
        sqlpool::connection fresh{
            sqlpool::open_options{.path = replacement, .journal = sqlpool::journal_mode::delete_journal}};
        fresh.exec("CREATE TABLE restored(v)");
    }
    std::filesystem::rename(replacement, path);
    clock.advance(1s);
    pool.maintain();
    const auto s = pool.stats();
    BOOST_TEST(s.closed.unhealthy == 2u);
    BOOST_TEST(s.total == 2u);
    auto conn = pool.acquire();
    BOOST_TEST(conn.info().id > 2u);
    BOOST_TEST(
        conn->query_value<std::int64_t>("SELECT count(*) FROM sqlite_master WHERE name = 'restored'") == 1);
}

BOOST_AUTO_TEST_CASE(max_age_jitter_spreads_expiries) {
    manual_clock clock;
    auto config = small_config(path, 16, 16);
    config.connection_max_age = 100s;
    config.max_age_jitter = 0.5;
    clocked_pool<> pool{config, {}, {}, clock};
    std::vector<steady::duration> lifetimes;
    {
        std::vector<sqlpool::lease> leases;
        for (int i = 0; i < 16; ++i) {
            leases.push_back(pool.acquire());
            const auto& info = leases.back().info();
            BOOST_TEST(info.age_jitter >= 0.0);
            BOOST_TEST(info.age_jitter < 1.0);
            BOOST_TEST((info.created_at == clock.now()));
            lifetimes.push_back(sqlpool::recycling::max_age::lifetime(info, pool.config()));
        }
    }
    std::set<steady::duration> distinct(lifetimes.begin(), lifetimes.end());
    BOOST_TEST(distinct.size() == 16u); // no two expire in the same instant
    BOOST_TEST((*distinct.begin() > steady::duration(50s)));
    BOOST_TEST((*distinct.rbegin() <= steady::duration(100s)));

    // Step the clock through the jitter window. Each step retires exactly the connections whose
    // lifetime has passed; replacements (created at >= 55 s, lifetime > 50 s) cannot expire
    // before 100 s.
    std::set<std::uint64_t> steps_that_retired;
    std::uint64_t previous = 0;
    for (int step = 1; step <= 20; ++step) {
        clock.advance(5s);
        pool.maintain();
        const auto elapsed = steady::duration(5s) * step;
        const auto expected = static_cast<std::uint64_t>(
            std::count_if(lifetimes.begin(), lifetimes.end(), [&](auto l) { return l <= elapsed; }));
        const auto s = pool.stats();
        BOOST_TEST(s.closed.aged == expected, "step " << step);
        BOOST_TEST(s.total == 16u, "step " << step); // replenished to min each round
        if (s.closed.aged != previous) steps_that_retired.insert(static_cast<std::uint64_t>(step));
        previous = s.closed.aged;
    }
    BOOST_TEST(previous == 16u);
    BOOST_TEST(steps_that_retired.size() >= 2u); // spread out, not all at once
    BOOST_TEST(pool.stats().created == 32u);
}

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

BOOST_AUTO_TEST_CASE(idle_timeout_retires_only_above_min) {
    manual_clock clock;
    auto config = small_config(path, 1, 4);
    config.idle_timeout = 60s;
    clocked_pool<> pool{config, {}, {}, clock};
    {
        auto a = pool.acquire();
        auto b = pool.acquire();
        auto c = pool.acquire();
    }
    BOOST_TEST(pool.stats().total == 3u);
    clock.advance(59s);
    pool.maintain();
    BOOST_TEST(pool.stats().total == 3u); // not idle long enough
    clock.advance(1s);
    pool.maintain();
    auto s = pool.stats();
    BOOST_TEST(s.total == 1u); // min_connections stays, however idle
    BOOST_TEST(s.closed.idle == 2u);
    clock.advance(1h);
    pool.maintain();
    BOOST_TEST(pool.stats().total == 1u);
    BOOST_TEST(pool.stats().closed.idle == 2u);
}

BOOST_AUTO_TEST_CASE(idle_timeout_counts_leased_connections_toward_min) {
    manual_clock clock;
    auto config = small_config(path, 2, 4);
    config.idle_timeout = 60s;
    clocked_pool<> pool{config, {}, {}, clock};
    auto a = pool.acquire();
    auto b = pool.acquire();
    pool.acquire().release(); // a third connection, idle
    BOOST_TEST(pool.stats().total == 3u);
    clock.advance(60s);
    pool.maintain();
    auto s = pool.stats();
    BOOST_TEST(s.total == 2u); // two leased ones meet min: the idle one may go
    BOOST_TEST(s.closed.idle == 1u);
    a.release();
    b.release();
    clock.advance(60s);
    pool.maintain();
    BOOST_TEST(pool.stats().total == 2u);
    BOOST_TEST(pool.stats().closed.idle == 1u);
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

BOOST_AUTO_TEST_CASE(maintain_replenishes_min_after_retirements) {
    uses_pool<1> pool{small_config(path, 3, 3)};
    {
        auto a = pool.acquire();
        auto b = pool.acquire();
        auto c = pool.acquire();
    } // all three retire on return
    auto s = pool.stats();
    BOOST_TEST(s.total == 0u);
    BOOST_TEST(s.closed.uses == 3u);
    pool.maintain();
    s = pool.stats();
    BOOST_TEST(s.total == 3u);
    BOOST_TEST(s.idle == 3u);
    BOOST_TEST(s.created == 6u);
    check_conservation(s);
    pool.maintain(); // nothing to do
    BOOST_TEST(pool.stats().created == 6u);
}

BOOST_AUTO_TEST_CASE(maintain_replenishes_after_aged_retirements) {
    manual_clock clock;
    auto config = small_config(path, 2, 4);
    config.connection_max_age = 10s;
    config.max_age_jitter = 0.0;
    clocked_pool<> pool{config, {}, {}, clock};
    clock.advance(10s);
    pool.maintain();
    const auto s = pool.stats();
    BOOST_TEST(s.closed.aged == 2u);
    BOOST_TEST(s.total == 2u);
    BOOST_TEST(s.created == 4u);
    auto conn = pool.acquire();
    BOOST_TEST(conn.info().id > 2u);
    BOOST_TEST((conn.info().created_at == clock.now()));
}

BOOST_AUTO_TEST_CASE(background_maintenance_replenishes_to_min) {
    auto config = small_config(path, 2, 2);
    config.background_maintenance = true;
    config.maintenance_interval = 5ms;
    uses_pool<1> pool{config};
    pool.acquire().release(); // retired on return: total drops to 1
    // total counts a connection while it is being opened: wait until it is idle.
    BOOST_TEST(eventually([&] {
        const auto s = pool.stats();
        return s.total == 2u && s.idle == 2u;
    }));
    BOOST_TEST(pool.stats().created == 3u);
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------------------------------------
BOOST_FIXTURE_TEST_SUITE(concurrency, fixture)

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
    BOOST_TEST(pool.close(10s));
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
