// pool_maintenance: one round of upkeep, run by maintain() on a manual clock or by the background
// thread: periodic health checks when due, retiring aged and long-idle connections (above
// min_connections), growing back to min_connections, and the idle upkeep of connections idle for
// idle_upkeep_after, and the report of leases held past lease_warn_after. The partition is
// internal; these tests go through a pool.
#define BOOST_TEST_MODULE pool_maintenance
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <source_location>
#include <string>
#include <thread>
#include <vector>

#include <sqlite3.h>

#include "support/pool_helpers.hpp"

import sqlpool;

using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

namespace {

using sqlpool_test::check_conservation;
using sqlpool_test::clocked_pool;
using sqlpool_test::eventually;
using sqlpool_test::manual_clock;
using sqlpool_test::periodic_health;
using sqlpool_test::small_config;
using sqlpool_test::uses_pool;

} // namespace

// ---------------------------------------------------------------------------------------------
BOOST_FIXTURE_TEST_SUITE(periodic_checks, sqlpool_test::pool_fixture)

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

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------------------------------------
BOOST_FIXTURE_TEST_SUITE(recycling, sqlpool_test::pool_fixture)

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

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------------------------------------
BOOST_FIXTURE_TEST_SUITE(replenish, sqlpool_test::pool_fixture)

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

BOOST_FIXTURE_TEST_SUITE(idle_upkeep, sqlpool_test::pool_fixture)

// The page cache a connection filled goes back once it has been idle for idle_upkeep_after.
BOOST_AUTO_TEST_CASE(a_connection_idle_long_enough_gives_its_page_cache_back) {
    manual_clock clock;
    auto config = small_config(path, 1, 1);
    config.idle_upkeep_after = 60s;
    clocked_pool<> pool{config, {}, {}, clock};
    const auto cache_used = [&] {
        auto lease = pool.acquire();
        int used = 0;
        int highwater = 0;
        (void)sqlite3_db_status(lease->native_handle(), SQLITE_DBSTATUS_CACHE_USED, &used, &highwater, 0);
        return used;
    };
    {
        auto lease = pool.acquire();
        lease->exec("CREATE TABLE t(x BLOB)");
        for (int i = 0; i < 200; ++i) lease->exec("INSERT INTO t VALUES (zeroblob(2000))");
        (void)lease->query_value<std::int64_t>("SELECT sum(length(x)) FROM t");
    }
    const int full = cache_used();
    BOOST_TEST(full > 256 * 1024);
    clock.advance(59s);
    pool.maintain();
    BOOST_TEST(cache_used() >= full / 2); // not idle long enough (and read again: used again)
    clock.advance(60s);
    pool.maintain();
    BOOST_TEST(cache_used() < full / 4);
    check_conservation(pool.stats());
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------------------------------------
// lease_warn_after: maintenance reports each lease held that long once, with its holder.
namespace {

class long_lease_log final : public sqlpool::pool_listener {
public:
    void on_long_lease(const sqlpool::lease_holder& held) override {
        const std::lock_guard lock(mutex_);
        heard_.push_back(held);
    }
    std::vector<sqlpool::lease_holder> heard() const {
        const std::lock_guard lock(mutex_);
        return heard_;
    }

private:
    mutable std::mutex mutex_;
    std::vector<sqlpool::lease_holder> heard_;
};

struct warned_pool {
    explicit warned_pool(const std::string& path, std::chrono::milliseconds warn_after)
        : log(std::make_shared<long_lease_log>()), pool(configure(path, warn_after, log), {}, {}, clock) {}

    static sqlpool::pool_config configure(const std::string& path, std::chrono::milliseconds warn_after,
                                          const std::shared_ptr<long_lease_log>& log) {
        auto config = small_config(path, 0, 2);
        config.lease_warn_after = warn_after;
        config.listener = log;
        return config;
    }

    manual_clock clock;
    std::shared_ptr<long_lease_log> log;
    clocked_pool<> pool;
};

} // namespace

BOOST_FIXTURE_TEST_SUITE(long_leases, sqlpool_test::pool_fixture)

BOOST_AUTO_TEST_CASE(a_lease_held_past_lease_warn_after_is_reported_once_with_its_holder) {
    warned_pool w{path, 10s};
    const std::uint_least32_t line = std::source_location::current().line() + 1;
    auto held = w.pool.acquire();
    w.clock.advance(9s);
    w.pool.maintain();
    BOOST_TEST(w.log->heard().empty()); // not yet
    w.clock.advance(1s);
    w.pool.maintain();
    w.pool.maintain(); // once per lease
    const auto heard = w.log->heard();
    BOOST_REQUIRE_EQUAL(heard.size(), 1U);
    BOOST_TEST((heard[0].thread == std::this_thread::get_id()));
    BOOST_TEST(heard[0].where.line() == line);
    BOOST_TEST(std::string(heard[0].where.file_name()).ends_with("pool_maintenance_test.cpp"));
    BOOST_TEST((heard[0].held_for == 10s));
    BOOST_TEST(w.pool.stats().long_leases == 1U);

    // The next lease of the same connection is a new lease: reported again when it is held long.
    held.release();
    held = w.pool.acquire();
    w.pool.maintain();
    BOOST_TEST(w.log->heard().size() == 1U);
    w.clock.advance(10s);
    w.pool.maintain();
    BOOST_TEST(w.log->heard().size() == 2U);
    BOOST_TEST(w.pool.stats().long_leases == 2U);
    check_conservation(w.pool.stats());
}

BOOST_AUTO_TEST_CASE(the_holder_reported_is_the_thread_that_acquired) {
    warned_pool w{path, 5s};
    std::optional<sqlpool::lease> moved_here;
    std::thread::id acquirer;
    std::thread([&] {
        acquirer = std::this_thread::get_id();
        moved_here.emplace(w.pool.acquire());
    }).join();
    auto mine = w.pool.acquire();
    w.clock.advance(6s);
    w.pool.maintain();
    auto heard = w.log->heard();
    BOOST_REQUIRE_EQUAL(heard.size(), 2U);
    const auto by = [&](std::thread::id t) {
        return std::ranges::count(heard, t, &sqlpool::lease_holder::thread);
    };
    BOOST_TEST(by(acquirer) == 1);
    BOOST_TEST(by(std::this_thread::get_id()) == 1);
}

BOOST_AUTO_TEST_CASE(zero_reports_nothing) {
    warned_pool w{path, 0s};
    auto held = w.pool.acquire();
    w.clock.advance(24h);
    w.pool.maintain();
    BOOST_TEST(w.log->heard().empty());
    BOOST_TEST(w.pool.stats().long_leases == 0U);
}

// With the background thread and the real clock: no maintain() call, the report arrives.
BOOST_AUTO_TEST_CASE(background_maintenance_reports_a_long_lease) {
    auto log = std::make_shared<long_lease_log>();
    auto config = small_config(path, 0, 2);
    config.background_maintenance = true;
    config.maintenance_interval = 10ms;
    config.lease_warn_after = 50ms;
    config.listener = log;
    sqlpool::pool pool{config};
    auto held = pool.acquire();
    BOOST_TEST(eventually([&] { return !log->heard().empty(); }));
    BOOST_TEST(log->heard().front().held_for >= 50ms);
    BOOST_TEST(pool.stats().long_leases >= 1U);
}

BOOST_AUTO_TEST_SUITE_END()
