#define BOOST_TEST_MODULE policies
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <barrier>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <type_traits>
#include <vector>

#include <sys/stat.h>

#include "support/manual_clock.hpp"
#include "support/scratch_dir.hpp"
#include "support/temp_dir.hpp"

import sqlpool;

using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

// ---------------------------------------------------------------------------------------------
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

// queue_policy
struct no_reuse {
    static constexpr sqlpool::handoff_mode handoff = sqlpool::handoff_mode::direct;
};
struct handoff_is_bool {
    static constexpr bool handoff = true;
    static constexpr sqlpool::reuse_order reuse = sqlpool::reuse_order::lifo;
};

// health_policy
struct no_when {
    sqlpool::health_status check(sqlpool::connection&, const sqlpool::connection_info&,
                                 sqlpool::check_point) {
        return sqlpool::health_status::healthy;
    }
};
struct check_returns_bool {
    static constexpr sqlpool::check_point when = sqlpool::check_point::periodic;
    bool check(sqlpool::connection&, const sqlpool::connection_info&, sqlpool::check_point) { return true; }
};
struct health_not_copyable {
    static constexpr sqlpool::check_point when = sqlpool::check_point::periodic;
    health_not_copyable() = default;
    health_not_copyable(const health_not_copyable&) = delete;
    sqlpool::health_status check(sqlpool::connection&, const sqlpool::connection_info&,
                                 sqlpool::check_point) {
        return sqlpool::health_status::healthy;
    }
};

// recycling_policy
struct retire_without_config {
    sqlpool::retire_reason retire(const sqlpool::connection_info&, steady::time_point) const {
        return sqlpool::retire_reason::none;
    }
};
struct retire_not_const {
    sqlpool::retire_reason retire(const sqlpool::connection_info&, const sqlpool::recycle_context&) {
        return sqlpool::retire_reason::none;
    }
};
struct retire_returns_bool {
    bool retire(const sqlpool::connection_info&, const sqlpool::recycle_context&) const { return false; }
};
struct retire_0_1_signature { // before 0.2 the pool passed now and the config, not a context
    sqlpool::retire_reason retire(const sqlpool::connection_info&, steady::time_point,
                                  const sqlpool::pool_config&) const {
        return sqlpool::retire_reason::none;
    }
};

// isolation_policy
struct no_write_level {
    static constexpr sqlpool::isolation_level default_level = sqlpool::isolation_level::deferred;
};
struct level_is_a_string {
    static constexpr const char* default_level = "deferred";
    static constexpr sqlpool::isolation_level write_level = sqlpool::isolation_level::immediate;
};

// pool_clock
struct wall_clock {
    std::chrono::system_clock::time_point now() const { return std::chrono::system_clock::now(); }
};
struct no_now {};

} // namespace bad

static_assert(!sqlpool::locking_policy<bad::no_mutex_type>);
static_assert(!sqlpool::locking_policy<bad::condition_cannot_wait>);
static_assert(!sqlpool::locking_policy<int>);
static_assert(!sqlpool::queue_policy<bad::no_reuse>);
static_assert(!sqlpool::queue_policy<bad::handoff_is_bool>);
static_assert(!sqlpool::queue_policy<sqlpool::locking::std_mutex>);
static_assert(!sqlpool::health_policy<bad::no_when>);
static_assert(!sqlpool::health_policy<bad::check_returns_bool>);
static_assert(!sqlpool::health_policy<bad::health_not_copyable>);
static_assert(!sqlpool::recycling_policy<bad::retire_without_config>);
static_assert(!sqlpool::recycling_policy<bad::retire_not_const>);
static_assert(!sqlpool::recycling_policy<bad::retire_returns_bool>);
static_assert(!sqlpool::recycling_policy<bad::retire_0_1_signature>);
static_assert(!sqlpool::isolation_policy<bad::no_write_level>);
static_assert(!sqlpool::isolation_policy<bad::level_is_a_string>);
static_assert(!sqlpool::pool_clock<bad::wall_clock>);
static_assert(!sqlpool::pool_clock<bad::no_now>);
static_assert(!sqlpool::pool_clock<std::chrono::system_clock>);

// basic_pool's parameters are constrained: a bad policy in any position is refused.
template <class L>
concept pool_takes_locking = requires { typename sqlpool::basic_pool<L>; };
template <class H>
concept pool_takes_health = requires { typename sqlpool::basic_pool<sqlpool::locking::std_mutex, H>; };
template <class R>
concept pool_takes_recycling =
    requires { typename sqlpool::basic_pool<sqlpool::locking::std_mutex, sqlpool::health::ping, R>; };
template <class I>
concept pool_takes_isolation = requires {
    typename sqlpool::basic_pool<sqlpool::locking::std_mutex, sqlpool::health::ping,
                                 sqlpool::recycling::standard, I>;
};
template <class Q>
concept pool_takes_queue = requires {
    typename sqlpool::basic_pool<sqlpool::locking::std_mutex, sqlpool::health::ping,
                                 sqlpool::recycling::standard, sqlpool::isolation::deferred, Q>;
};
template <class C>
concept pool_takes_clock = requires {
    typename sqlpool::basic_pool<sqlpool::locking::std_mutex, sqlpool::health::ping,
                                 sqlpool::recycling::standard, sqlpool::isolation::deferred,
                                 sqlpool::queue::barging, C>;
};
static_assert(!pool_takes_locking<bad::condition_cannot_wait>);
static_assert(!pool_takes_queue<bad::no_reuse>);
static_assert(pool_takes_queue<sqlpool::queue::round_robin>);
static_assert(!pool_takes_health<bad::check_returns_bool>);
static_assert(!pool_takes_recycling<bad::retire_not_const>);
static_assert(!pool_takes_isolation<bad::no_write_level>);
static_assert(!pool_takes_clock<bad::wall_clock>);
static_assert(pool_takes_locking<sqlpool::locking::spin>);
static_assert(pool_takes_clock<sqlpool_test::manual_clock>);

static_assert(sqlpool::locking_policy<sqlpool::locking::std_mutex>);
static_assert(sqlpool::locking_policy<sqlpool::locking::spin>);
static_assert(sqlpool::locking_policy<sqlpool::locking::single_thread>);
static_assert(sqlpool::health_policy<sqlpool::health::ping>);
static_assert(sqlpool::health_policy<sqlpool::health::file_identity>);
static_assert(sqlpool::health_policy<sqlpool::health::quick_check>);
static_assert(sqlpool::health_policy<sqlpool::health::no_check>);
static_assert(
    sqlpool::health_policy<sqlpool::health::all_of<sqlpool::health::ping, sqlpool::health::quick_check>>);
static_assert(sqlpool::recycling_policy<sqlpool::recycling::max_age>);
static_assert(sqlpool::recycling_policy<sqlpool::recycling::max_uses<>>);
static_assert(sqlpool::recycling_policy<sqlpool::recycling::max_uses<3>>);
static_assert(sqlpool::recycling_policy<sqlpool::recycling::idle_timeout>);
static_assert(sqlpool::recycling_policy<sqlpool::recycling::never>);
static_assert(sqlpool::recycling_policy<
              sqlpool::recycling::any_of<sqlpool::recycling::max_age, sqlpool::recycling::never>>);
static_assert(sqlpool::recycling_policy<sqlpool::recycling::standard>);
static_assert(sqlpool::isolation_policy<sqlpool::isolation::deferred>);
static_assert(sqlpool::isolation_policy<sqlpool::isolation::immediate>);
static_assert(sqlpool::isolation_policy<sqlpool::isolation::exclusive>);
static_assert(sqlpool::pool_clock<steady>);
static_assert(sqlpool::pool_clock<sqlpool_test::manual_clock>);

// The stock isolation levels and check points.
static_assert(sqlpool::isolation::deferred::default_level == sqlpool::isolation_level::deferred);
static_assert(sqlpool::isolation::deferred::write_level == sqlpool::isolation_level::immediate);
static_assert(sqlpool::isolation::immediate::default_level == sqlpool::isolation_level::immediate);
static_assert(sqlpool::isolation::exclusive::write_level == sqlpool::isolation_level::exclusive);
static_assert(sqlpool::isolation::immediate::write_level == sqlpool::isolation_level::immediate);
static_assert(sqlpool::isolation::exclusive::default_level == sqlpool::isolation_level::exclusive);
static_assert(sqlpool::includes(sqlpool::health::ping::when, sqlpool::check_point::on_checkout));
static_assert(!sqlpool::includes(sqlpool::health::quick_check::when, sqlpool::check_point::on_checkout));
static_assert(sqlpool::health::no_check::when == sqlpool::check_point::none);

// Stock policies are empty, so [[no_unique_address]] makes them free inside the pool.
static_assert(std::is_empty_v<sqlpool::health::ping> && std::is_empty_v<sqlpool::recycling::max_age>);

namespace {

sqlpool::connection_info info_created_at(steady::time_point t) {
    sqlpool::connection_info info;
    info.created_at = info.last_used_at = info.last_checked_at = t;
    return info;
}

std::string name(sqlpool::retire_reason reason) {
    return sqlpool::to_string(reason);
}
std::string name(sqlpool::health_status status) {
    return sqlpool::to_string(status);
}

// A policy that answers what the test sets, at the check points it names.
template <sqlpool::check_point When>
struct fixed {
    static constexpr sqlpool::check_point when = When;
    sqlpool::health_status status = sqlpool::health_status::healthy;
    sqlpool::health_status check(sqlpool::connection&, const sqlpool::connection_info&,
                                 sqlpool::check_point) const {
        return status;
    }
};

// A recycling policy that always answers `Reason`.
template <sqlpool::retire_reason Reason>
struct always_retire {
    sqlpool::retire_reason retire(const sqlpool::connection_info&, const sqlpool::recycle_context&) const {
        return Reason;
    }
};

struct fixture {
    sqlpool_test::temp_dir dir{"policies"};
    std::string path = dir.file("p.db");
    sqlpool::connection conn{path};
    sqlpool::pool_config config{.database = path};

    // What the pool tells a recycling policy at `now`; by default about an idle connection of a
    // pool above min_connections (during maintenance).
    [[nodiscard]] sqlpool::recycle_context at(steady::time_point now, bool may_shrink = true) const {
        return {.now = now, .config = config, .may_shrink = may_shrink};
    }
};

} // namespace

BOOST_FIXTURE_TEST_SUITE(recycling, fixture)

BOOST_AUTO_TEST_CASE(max_age_lifetime_is_shortened_by_the_connection_jitter) {
    config.connection_max_age = 100s;
    config.max_age_jitter = 0.2;
    auto info = info_created_at(steady::time_point{1h});
    const auto lifetime = [&](double draw) {
        info.age_jitter = draw;
        return sqlpool::recycling::max_age::lifetime(info, config);
    };
    // lifetime = max_age × (1 − max_age_jitter × age_jitter)
    BOOST_TEST(lifetime(0.0).count() == steady::duration(100s).count());
    BOOST_TEST(lifetime(0.5).count() == steady::duration(90s).count());
    BOOST_TEST(lifetime(1.0).count() == steady::duration(80s).count());
    config.max_age_jitter = 0.0; // no jitter: every connection gets the full age
    BOOST_TEST(lifetime(0.9).count() == steady::duration(100s).count());
    config.max_age_jitter = 1.0; // full jitter: anywhere between 0 and max_age
    BOOST_TEST(lifetime(0.25).count() == steady::duration(75s).count());
    // Distinct draws give distinct lifetimes.
    config.max_age_jitter = 0.1;
    std::set<steady::duration::rep> lifetimes;
    for (int i = 0; i < 16; ++i) lifetimes.insert(lifetime(i / 16.0).count());
    BOOST_TEST(lifetimes.size() == 16u);
}

BOOST_AUTO_TEST_CASE(max_age_retires_exactly_at_the_lifetime) {
    const steady::time_point t0{1h};
    config.connection_max_age = 100s;
    config.max_age_jitter = 0.2;
    auto info = info_created_at(t0);
    info.age_jitter = 0.5; // lifetime 90 s
    const sqlpool::recycling::max_age policy;
    BOOST_TEST(name(policy.retire(info, at(t0 + 90s - 1ns))) == "none");
    BOOST_TEST(name(policy.retire(info, at(t0 + 90s))) == "aged");
    BOOST_TEST(name(policy.retire(info, at(t0 + 1000h))) == "aged");
    // Age counts from creation, not from the last use.
    info.last_used_at = t0 + 89s;
    BOOST_TEST(name(policy.retire(info, at(t0 + 90s))) == "aged");
    info.age_jitter = 0.0;
    BOOST_TEST(name(policy.retire(info, at(t0 + 99s))) == "none");
    BOOST_TEST(name(policy.retire(info, at(t0 + 100s))) == "aged");
}

BOOST_AUTO_TEST_CASE(max_uses_from_template_or_config) {
    const steady::time_point now{1h};
    auto info = info_created_at(now);
    info.use_count = 2;
    BOOST_TEST(name(sqlpool::recycling::max_uses<3>{}.retire(info, at(now))) == "none");
    info.use_count = 3;
    BOOST_TEST(name(sqlpool::recycling::max_uses<3>{}.retire(info, at(now))) == "uses");
    BOOST_TEST(name(sqlpool::recycling::max_uses<4>{}.retire(info, at(now))) == "none");
    // Limit 0 takes config.max_uses, where 0 means unlimited.
    info.use_count = 1'000'000;
    BOOST_TEST(name(sqlpool::recycling::max_uses<>{}.retire(info, at(now))) == "none");
    config.max_uses = 2;
    info.use_count = 1;
    BOOST_TEST(name(sqlpool::recycling::max_uses<>{}.retire(info, at(now))) == "none");
    info.use_count = 2;
    BOOST_TEST(name(sqlpool::recycling::max_uses<>{}.retire(info, at(now))) == "uses");
    // An explicit limit wins over the config's.
    BOOST_TEST(name(sqlpool::recycling::max_uses<5>{}.retire(info, at(now))) == "none");
}

BOOST_AUTO_TEST_CASE(idle_timeout_counts_from_the_last_use) {
    const steady::time_point t0{1h};
    config.idle_timeout = 60s;
    auto info = info_created_at(t0);
    const sqlpool::recycling::idle_timeout policy;
    BOOST_TEST(name(policy.retire(info, at(t0 + 59s))) == "none");
    BOOST_TEST(name(policy.retire(info, at(t0 + 60s))) == "idle");
    info.last_used_at = t0 + 30s; // used since: the idle clock restarts
    BOOST_TEST(name(policy.retire(info, at(t0 + 60s))) == "none");
    BOOST_TEST(name(policy.retire(info, at(t0 + 90s))) == "idle");
}

BOOST_AUTO_TEST_CASE(idle_timeout_keeps_a_connection_the_pool_may_not_lose) {
    const steady::time_point t0{1h};
    config.idle_timeout = 60s;
    const auto info = info_created_at(t0);
    const sqlpool::recycling::idle_timeout policy;
    // At min_connections, or on return (the pool says so with may_shrink = false): kept.
    BOOST_TEST(name(policy.retire(info, at(t0 + 1000h, false))) == "none");
    BOOST_TEST(name(sqlpool::recycling::standard{}.retire(info, at(t0 + 60s, false))) == "none");
    BOOST_TEST(name(sqlpool::recycling::standard{}.retire(info, at(t0 + 60s, true))) == "idle");
}

BOOST_AUTO_TEST_CASE(never_keeps_everything) {
    const steady::time_point t0{1h};
    auto info = info_created_at(t0);
    info.use_count = 1'000'000;
    config.max_uses = 1;
    BOOST_TEST(name(sqlpool::recycling::never{}.retire(info, at(t0 + 1000h))) == "none");
}

BOOST_AUTO_TEST_CASE(any_of_takes_the_first_policy_that_retires) {
    using sqlpool::retire_reason;
    const steady::time_point now{1h};
    const auto info = info_created_at(now);
    using uses_then_aged =
        sqlpool::recycling::any_of<always_retire<retire_reason::none>, always_retire<retire_reason::uses>,
                                   always_retire<retire_reason::aged>>;
    using aged_then_uses =
        sqlpool::recycling::any_of<always_retire<retire_reason::aged>, always_retire<retire_reason::uses>>;
    using nobody = sqlpool::recycling::any_of<sqlpool::recycling::never, always_retire<retire_reason::none>>;
    BOOST_TEST(name(uses_then_aged{}.retire(info, at(now))) == "uses");
    BOOST_TEST(name(aged_then_uses{}.retire(info, at(now))) == "aged");
    BOOST_TEST(name(nobody{}.retire(info, at(now))) == "none");
    BOOST_TEST(name(sqlpool::recycling::any_of<>{}.retire(info, at(now))) == "none");
}

BOOST_AUTO_TEST_CASE(standard_applies_every_config_knob) {
    const steady::time_point t0{1h};
    config.connection_max_age = 100s;
    config.max_age_jitter = 0.0;
    config.idle_timeout = 60s;
    config.max_uses = 10;
    auto info = info_created_at(t0);
    const sqlpool::recycling::standard policy;
    BOOST_TEST(name(policy.retire(info, at(t0 + 59s))) == "none");
    BOOST_TEST(name(policy.retire(info, at(t0 + 60s))) == "idle");
    info.last_used_at = t0 + 90s;
    BOOST_TEST(name(policy.retire(info, at(t0 + 100s))) == "aged");
    info.use_count = 10;
    BOOST_TEST(name(policy.retire(info, at(t0 + 91s))) == "uses");
    // Order: max_age, then max_uses, then idle_timeout.
    BOOST_TEST(name(policy.retire(info, at(t0 + 1000s))) == "aged");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(health, fixture)

BOOST_AUTO_TEST_CASE(ping_is_healthy_in_autocommit_and_unhealthy_inside_a_transaction) {
    const sqlpool::health::ping ping;
    const sqlpool::connection_info info;
    BOOST_TEST(name(ping.check(conn, info, sqlpool::check_point::on_checkout)) == "healthy");
    conn.exec("BEGIN");
    BOOST_TEST(name(ping.check(conn, info, sqlpool::check_point::on_checkout)) == "unhealthy");
    BOOST_TEST(name(ping.check(conn, info, sqlpool::check_point::periodic)) == "unhealthy");
    conn.exec("ROLLBACK");
    BOOST_TEST(name(ping.check(conn, info, sqlpool::check_point::periodic)) == "healthy");
}

BOOST_AUTO_TEST_CASE(ping_fails_on_a_moved_from_connection) {
    sqlpool::connection other = std::move(conn);
    BOOST_TEST(name(sqlpool::health::ping{}.check(conn, {}, sqlpool::check_point::periodic)) == "unhealthy");
    BOOST_TEST(name(sqlpool::health::ping{}.check(other, {}, sqlpool::check_point::periodic)) == "healthy");
}

BOOST_AUTO_TEST_CASE(quick_check_passes_on_a_sound_database) {
    conn.exec("CREATE TABLE t(v INTEGER PRIMARY KEY, w TEXT); CREATE INDEX t_w ON t(w);"
              "INSERT INTO t(w) VALUES('a'), ('b'), ('c');");
    BOOST_TEST(name(sqlpool::health::quick_check{}.check(conn, {}, sqlpool::check_point::periodic)) ==
               "healthy");
    sqlpool::connection memory{":memory:"};
    BOOST_TEST(name(sqlpool::health::quick_check{}.check(memory, {}, sqlpool::check_point::periodic)) ==
               "healthy");
}

BOOST_AUTO_TEST_CASE(no_check_is_always_healthy) {
    conn.exec("BEGIN");
    BOOST_TEST(name(sqlpool::health::no_check{}.check(conn, {}, sqlpool::check_point::periodic)) ==
               "healthy");
    conn.exec("ROLLBACK");
}

BOOST_AUTO_TEST_CASE(file_identity_detects_a_file_renamed_over_the_database) {
    struct stat st{};
    BOOST_TEST_REQUIRE(::stat(path.c_str(), &st) == 0);
    sqlpool::connection_info info;
    info.file_device = static_cast<std::uint64_t>(st.st_dev);
    info.file_inode = static_cast<std::uint64_t>(st.st_ino);
    const sqlpool::health::file_identity identity;
    BOOST_TEST(name(identity.check(conn, info, sqlpool::check_point::periodic)) == "healthy");
    // A restore that renames a new file over the old one: same path, another inode.
    const auto other = dir.file("other.db");
    {
        sqlpool::connection fresh{other};
        fresh.exec("CREATE TABLE restored(v)");
    }
    std::filesystem::rename(other, path);
    BOOST_TEST(name(identity.check(conn, info, sqlpool::check_point::periodic)) == "unhealthy");
    BOOST_TEST(name(identity.check(conn, info, sqlpool::check_point::on_checkout)) == "unhealthy");
}

BOOST_AUTO_TEST_CASE(file_identity_detects_a_deleted_file) {
    struct stat st{};
    BOOST_TEST_REQUIRE(::stat(path.c_str(), &st) == 0);
    sqlpool::connection_info info;
    info.file_device = static_cast<std::uint64_t>(st.st_dev);
    info.file_inode = static_cast<std::uint64_t>(st.st_ino);
    BOOST_TEST(name(sqlpool::health::file_identity{}.check(conn, info, sqlpool::check_point::periodic)) ==
               "healthy");
    std::filesystem::remove(path);
    BOOST_TEST(name(sqlpool::health::file_identity{}.check(conn, info, sqlpool::check_point::periodic)) ==
               "unhealthy");
}

BOOST_AUTO_TEST_CASE(file_identity_uses_what_the_pool_recorded) {
    sqlpool::pool pool{sqlpool::pool_config{.database = path, .background_maintenance = false}};
    auto lease = pool.acquire();
    struct stat st{};
    BOOST_TEST_REQUIRE(::stat(path.c_str(), &st) == 0);
    BOOST_TEST(lease.info().file_inode == static_cast<std::uint64_t>(st.st_ino));
    BOOST_TEST(lease.info().file_device == static_cast<std::uint64_t>(st.st_dev));
    const sqlpool::health::file_identity identity;
    BOOST_TEST(name(identity.check(*lease, lease.info(), sqlpool::check_point::periodic)) == "healthy");
    const auto other = dir.file("other.db");
    {
        sqlpool::connection fresh{other};
    }
    std::filesystem::rename(other, path);
    BOOST_TEST(name(identity.check(*lease, lease.info(), sqlpool::check_point::periodic)) == "unhealthy");
}

BOOST_AUTO_TEST_CASE(file_identity_is_unknown_for_memory) {
    sqlpool::pool pool{sqlpool::pool_config{.database = ":memory:", .background_maintenance = false}};
    auto lease = pool.acquire();
    BOOST_TEST(lease.info().file_inode == 0u);
    BOOST_TEST(name(sqlpool::health::file_identity{}.check(*lease, lease.info(),
                                                           sqlpool::check_point::periodic)) == "unknown");
}

BOOST_AUTO_TEST_CASE(all_of_reports_the_worst_of_the_parts_that_run) {
    using sqlpool::check_point;
    using sqlpool::health_status;
    using on_return = fixed<check_point::on_return>;
    using periodic = fixed<check_point::periodic>;
    using combined = sqlpool::health::all_of<on_return, periodic, fixed<check_point::on_return>>;
    static_assert(sqlpool::includes(combined::when, check_point::on_return));
    static_assert(sqlpool::includes(combined::when, check_point::periodic));
    static_assert(!sqlpool::includes(combined::when, check_point::on_checkout));
    combined policy;
    auto& [first, second, third] = policy.policies;
    const auto check = [&](check_point point) { return name(policy.check(conn, {}, point)); };

    BOOST_TEST(check(check_point::on_return) == "healthy");
    // healthy < unknown < unhealthy, whatever the order of the parts.
    third.status = health_status::unknown;
    BOOST_TEST(check(check_point::on_return) == "unknown");
    first.status = health_status::unhealthy;
    BOOST_TEST(check(check_point::on_return) == "unhealthy");
    first.status = health_status::healthy;
    third.status = health_status::unhealthy;
    BOOST_TEST(check(check_point::on_return) == "unhealthy");
    first.status = health_status::unknown;
    third.status = health_status::healthy;
    BOOST_TEST(check(check_point::on_return) == "unknown");
    // A part that does not run at this point has no say.
    second.status = health_status::unhealthy;
    BOOST_TEST(check(check_point::on_return) == "unknown");
    BOOST_TEST(check(check_point::periodic) == "unhealthy");
    BOOST_TEST(check(check_point::on_checkout) == "healthy");
}

BOOST_AUTO_TEST_CASE(all_of_with_stock_policies) {
    sqlpool::health::all_of<sqlpool::health::ping, sqlpool::health::quick_check> policy;
    BOOST_TEST(name(policy.check(conn, {}, sqlpool::check_point::periodic)) == "healthy");
    conn.exec("BEGIN");
    BOOST_TEST(name(policy.check(conn, {}, sqlpool::check_point::periodic)) == "unhealthy");
    conn.exec("ROLLBACK");
}

BOOST_AUTO_TEST_SUITE_END()

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

// ---------------------------------------------------------------------------------------------
// Every stock policy in a real pool. Each pool type below runs through the same scenario, one test
// case per step: a file database in a scratch directory (rollback journal, so that the three BEGIN
// modes lock differently: https://sqlite.org/lang_transaction.html), concurrent leases,
// write()/read() round trips, the isolation policy's levels proven from another connection,
// recycling driven by a manual clock, health checks against a corrupted and a replaced file, and
// close(). What each step expects follows from the pool's policies (the promises below), so a
// policy that does not do what it promises fails the step in every pool that uses it.

namespace matrix {

namespace lk = sqlpool::locking;
namespace hp = sqlpool::health;
namespace rp = sqlpool::recycling;
namespace ip = sqlpool::isolation;
using sqlpool::check_point;

namespace qp = sqlpool::queue;

template <class Locking, class Health, class Recycling, class Isolation, class Queue = qp::barging>
using clocked = sqlpool::basic_pool<Locking, Health, Recycling, Isolation, Queue, sqlpool_test::manual_clock>;

// Each locking, health, recycling, isolation and queue policy appears in at least one pool.
using pools = std::tuple<clocked<lk::std_mutex, hp::ping, rp::standard, ip::deferred>,
                         clocked<lk::spin, hp::file_identity, rp::max_age, ip::immediate, qp::round_robin>,
                         clocked<lk::std_mutex, hp::quick_check, rp::max_uses<2>, ip::exclusive, qp::fifo>,
                         clocked<lk::single_thread, hp::no_check, rp::idle_timeout, ip::immediate>,
                         clocked<lk::std_mutex, hp::all_of<hp::file_identity, hp::quick_check>,
                                 rp::any_of<rp::max_uses<4>, rp::idle_timeout>, ip::deferred>,
                         clocked<lk::spin, hp::all_of<hp::ping, hp::no_check>, rp::never, ip::exclusive>,
                         clocked<lk::spin, hp::ping, rp::max_uses<>, ip::deferred, qp::fifo>>;

// What a health policy promises to notice, and at which check points: the database file replaced
// under the connection (renamed over), or its pages corrupted in place.
struct health_promise {
    check_point replaced = check_point::none;
    check_point corrupted = check_point::none;
};
constexpr health_promise promised(std::type_identity<hp::ping>) {
    return {.replaced = check_point::on_checkout | check_point::periodic};
}
constexpr health_promise promised(std::type_identity<hp::file_identity>) {
    return {.replaced = check_point::on_checkout | check_point::periodic};
}
constexpr health_promise promised(std::type_identity<hp::quick_check>) {
    return {.corrupted = check_point::periodic};
}
constexpr health_promise promised(std::type_identity<hp::no_check>) {
    return {};
}
template <class... Parts>
constexpr health_promise promised(std::type_identity<hp::all_of<Parts...>>) {
    return {.replaced = (check_point::none | ... | promised(std::type_identity<Parts>{}).replaced),
            .corrupted = (check_point::none | ... | promised(std::type_identity<Parts>{}).corrupted)};
}

// What a recycling policy promises to retire: aged connections, idle ones above min_connections,
// and connections after `uses` leases (0: never for uses).
struct recycling_promise {
    bool aged = false;
    bool idle = false;
    std::uint64_t uses = 0;
};
constexpr recycling_promise promised(std::type_identity<rp::max_age>, std::uint64_t) {
    return {.aged = true};
}
template <std::uint64_t Limit>
constexpr recycling_promise promised(std::type_identity<rp::max_uses<Limit>>, std::uint64_t config_max_uses) {
    return {.uses = Limit != 0 ? Limit : config_max_uses};
}
constexpr recycling_promise promised(std::type_identity<rp::idle_timeout>, std::uint64_t) {
    return {.idle = true};
}
constexpr recycling_promise promised(std::type_identity<rp::never>, std::uint64_t) {
    return {};
}
constexpr recycling_promise either(recycling_promise a, recycling_promise b) {
    const std::uint64_t uses = a.uses == 0 ? b.uses : (b.uses == 0 ? a.uses : std::min(a.uses, b.uses));
    return {.aged = a.aged || b.aged, .idle = a.idle || b.idle, .uses = uses};
}
template <class... Parts>
constexpr recycling_promise promised(std::type_identity<rp::any_of<Parts...>>,
                                     std::uint64_t config_max_uses) {
    recycling_promise all;
    ((all = either(all, promised(std::type_identity<Parts>{}, config_max_uses))), ...);
    return all;
}

template <class Pool>
constexpr health_promise health_of = promised(std::type_identity<typename Pool::health_type>{});
template <class Pool>
recycling_promise recycling_of(const sqlpool::pool_config& config) {
    return promised(std::type_identity<typename Pool::recycling_type>{}, config.max_uses);
}

// Counts failed health checks by check point.
struct health_counter final : sqlpool::pool_listener {
    std::atomic<int> on_checkout{0};
    std::atomic<int> periodic{0};
    void on_health_check_failed(const sqlpool::connection_info&, check_point point) override {
        if (point == check_point::on_checkout) ++on_checkout;
        if (point == check_point::periodic) ++periodic;
    }
};

// A scratch directory, a database file in it with table t, and the pool's configuration.
struct setup {
    sqlpool_test::scratch_dir dir{"matrix"};
    std::string path = dir.file("m.db");
    sqlpool_test::manual_clock clock;
    std::shared_ptr<health_counter> failures = std::make_shared<health_counter>();
    sqlpool::pool_config config{.database = path,
                                .journal = sqlpool::journal_mode::delete_journal,
                                .synchronous = sqlpool::synchronous_mode::off,
                                .min_connections = 1,
                                .max_connections = 4,
                                .acquire_timeout = 60s,
                                .connection_max_age = 1h,
                                .idle_timeout = 10min,
                                .health_check_interval = 30s,
                                .max_uses = 3,
                                .background_maintenance = false,
                                .listener = failures};

    template <class Pool>
    std::unique_ptr<Pool> open() {
        auto pool = std::make_unique<Pool>(config, typename Pool::health_type{},
                                           typename Pool::recycling_type{}, clock);
        pool->write([](sqlpool::connection& c) { c.exec("CREATE TABLE IF NOT EXISTS t(v INTEGER)"); });
        return pool;
    }
};

// A connection outside the pool that never waits for a lock.
sqlpool::connection probe(const std::string& path) {
    return sqlpool::connection{sqlpool::open_options{
        .path = path, .busy_timeout = 0ms, .journal = sqlpool::journal_mode::delete_journal}};
}
bool write_lock_free(sqlpool::connection& other) {
    try {
        other.exec("BEGIN IMMEDIATE");
    } catch (const sqlpool::busy_error&) {
        if (other.in_transaction()) other.exec("ROLLBACK");
        return false;
    }
    other.exec("ROLLBACK");
    return true;
}
bool readable(sqlpool::connection& other) {
    try {
        (void)other.query_value<std::int64_t>("SELECT count(*) FROM t");
    } catch (const sqlpool::busy_error&) {
        return false;
    }
    return true;
}

// Overwrites the start of `page` with bytes no b-tree page starts with, and bumps the file change
// counter so that every connection drops its page cache (https://sqlite.org/fileformat.html).
void corrupt_page(const std::string& path, std::int64_t page) {
    std::fstream file(path, std::ios::in | std::ios::out | std::ios::binary);
    std::array<unsigned char, 100> header{};
    file.read(reinterpret_cast<char*>(header.data()), header.size());
    const std::int64_t raw_size = (header[16] << 8) | header[17];
    const std::int64_t page_size = raw_size == 1 ? 65536 : raw_size;
    const std::array<char, 16> garbage{'\xff', '\xff', '\xff', '\xff', '\xff', '\xff', '\xff', '\xff',
                                       '\xff', '\xff', '\xff', '\xff', '\xff', '\xff', '\xff', '\xff'};
    file.seekp((page - 1) * page_size);
    file.write(garbage.data(), garbage.size());
    ++header[27]; // the low byte of the big-endian change counter at offset 24
    file.seekp(24);
    file.write(reinterpret_cast<const char*>(&header[24]), 4);
    BOOST_TEST_REQUIRE(file.good());
}

// Renames a fresh database (with table `restored`) over `path`, the way a restore would.
void replace_file(const sqlpool_test::scratch_dir& dir, const std::string& path) {
    const auto replacement = dir.file("replacement.db");
    {
        sqlpool::connection fresh{
            sqlpool::open_options{.path = replacement, .journal = sqlpool::journal_mode::delete_journal}};
        fresh.exec("CREATE TABLE restored(v)");
    }
    std::filesystem::rename(replacement, path);
}

} // namespace matrix

BOOST_FIXTURE_TEST_SUITE(stock_policies_in_a_pool, matrix::setup)

BOOST_AUTO_TEST_CASE_TEMPLATE(leases_are_exclusive_across_threads, Pool, matrix::pools) {
    auto pool = open<Pool>();
    // Three threads each hold a lease at the same moment.
    constexpr std::size_t holders = sqlpool::locking_traits<typename Pool::locking_type>::concurrent ? 3 : 1;
    constexpr int rounds = 20;
    std::barrier all_holding(static_cast<std::ptrdiff_t>(holders));
    std::mutex ids_mutex;
    std::set<std::uint64_t> ids_held_together;
    std::atomic<int> lost_writes{0};
    const auto work = [&](std::size_t me) {
        for (int i = 0; i < rounds; ++i) {
            const auto value = static_cast<std::int64_t>(me * 1000 + static_cast<std::size_t>(i));
            pool->write([&](sqlpool::connection& c) { c.exec("INSERT INTO t(v) VALUES(?)", value); });
            auto lease = pool->acquire();
            if (lease->template query_value<std::int64_t>("SELECT count(*) FROM t WHERE v = ?", value) != 1)
                ++lost_writes; // Boost.Test's assertions are for the main thread only
            if (i == 0) {
                {
                    std::lock_guard lock(ids_mutex);
                    ids_held_together.insert(lease.info().id);
                }
                all_holding.arrive_and_wait(); // nobody releases before all hold one
            }
        }
    };
    std::vector<std::thread> threads;
    for (std::size_t t = 1; t < holders; ++t) threads.emplace_back(work, t);
    work(0);
    for (auto& t : threads) t.join();
    BOOST_TEST(ids_held_together.size() == holders); // distinct connections, held together
    BOOST_TEST(lost_writes == 0);
    const auto rows = pool->read(
        [](sqlpool::connection& c) { return c.query_value<std::int64_t>("SELECT count(*) FROM t"); });
    BOOST_TEST(rows == static_cast<std::int64_t>(holders) * rounds);
    const auto s = pool->stats();
    BOOST_TEST(s.in_use == 0u);
    BOOST_TEST(s.total <= s.max_connections);
}

BOOST_AUTO_TEST_CASE_TEMPLATE(write_and_read_round_trip, Pool, matrix::pools) {
    auto pool = open<Pool>();
    pool->write([](sqlpool::connection& c) { c.exec("INSERT INTO t(v) VALUES(?), (?)", 40, 2); });
    const auto sum = pool->read(
        [](sqlpool::connection& c) { return c.query_value<std::int64_t>("SELECT sum(v) FROM t"); });
    BOOST_TEST(sum == 42);
    BOOST_TEST(pool->stats().transactions.committed == 3u); // CREATE TABLE, the insert, the sum
    // read() is a transaction: fn sees one snapshot, inside BEGIN.
    BOOST_TEST(pool->read([](sqlpool::connection& c) { return c.in_transaction(); }));
}

BOOST_AUTO_TEST_CASE_TEMPLATE(begin_without_a_level_uses_the_isolation_policy_default, Pool, matrix::pools) {
    auto pool = open<Pool>();
    constexpr auto level = Pool::isolation_type::default_level;
    auto other = matrix::probe(path); // opened first: opening reads the schema
    auto lease = pool->acquire();
    BOOST_TEST((lease->default_isolation() == level));
    auto tx = lease->begin();
    BOOST_TEST((tx.level() == level));
    // DEFERRED takes no lock yet; IMMEDIATE takes the write lock; EXCLUSIVE keeps readers out too.
    BOOST_TEST(matrix::write_lock_free(other) == (level == sqlpool::isolation_level::deferred));
    BOOST_TEST(matrix::readable(other) == (level != sqlpool::isolation_level::exclusive));
    tx.rollback();
    BOOST_TEST(matrix::write_lock_free(other));
    BOOST_TEST(matrix::readable(other));
}

BOOST_AUTO_TEST_CASE_TEMPLATE(write_uses_the_isolation_policy_write_level, Pool, matrix::pools) {
    auto pool = open<Pool>();
    constexpr auto level = Pool::isolation_type::write_level;
    auto other = matrix::probe(path);
    bool write_lock_free = true;
    bool readable = false;
    pool->write([&](sqlpool::connection& c) {
        c.exec("INSERT INTO t(v) VALUES(1)");
        write_lock_free = matrix::write_lock_free(other);
        readable = matrix::readable(other);
    });
    BOOST_TEST(!write_lock_free);
    BOOST_TEST(readable == (level != sqlpool::isolation_level::exclusive));
    BOOST_TEST(matrix::readable(other));
}

BOOST_AUTO_TEST_CASE_TEMPLATE(recycling_retires_after_the_promised_number_of_uses, Pool, matrix::pools) {
    auto pool = open<Pool>();
    const auto promise = matrix::recycling_of<Pool>(config);
    const auto before = pool->stats().closed.uses;
    constexpr std::uint64_t leases = 12;
    std::uint64_t earlier_uses = 0; // of the connection the first lease gets (CREATE TABLE ran on it)
    for (std::uint64_t i = 0; i < leases; ++i) {
        auto lease = pool->acquire(); // the one idle connection, or the one that replaced it
        if (i == 0) earlier_uses = lease.info().use_count;
    }
    const auto retired = pool->stats().closed.uses - before;
    BOOST_TEST(retired == (promise.uses == 0 ? 0u : (earlier_uses + leases) / promise.uses));
}

BOOST_AUTO_TEST_CASE_TEMPLATE(maintain_retires_idle_connections_above_the_minimum, Pool, matrix::pools) {
    auto pool = open<Pool>();
    {
        auto first = pool->acquire();
        auto second = pool->acquire(); // two connections where min_connections is one
    }
    const auto before = pool->stats();
    clock.advance(config.idle_timeout);
    pool->maintain();
    const auto after = pool->stats();
    // The pool keeps its min_connections of one.
    const std::size_t above_minimum = before.idle - 1;
    BOOST_TEST(after.closed.idle - before.closed.idle ==
               (matrix::recycling_of<Pool>(config).idle ? above_minimum : 0u));
    BOOST_TEST(after.closed.aged == before.closed.aged);
    BOOST_TEST(after.total == before.total - (after.closed.idle - before.closed.idle));
}

BOOST_AUTO_TEST_CASE_TEMPLATE(maintain_retires_aged_connections_and_replenishes, Pool, matrix::pools) {
    auto pool = open<Pool>();
    const auto before = pool->stats();
    clock.advance(config.connection_max_age);
    pool->maintain();
    const auto after = pool->stats();
    // Every connection is idle and at the minimum: only age retires it, and the pool reopens one.
    BOOST_TEST(after.closed.aged - before.closed.aged ==
               (matrix::recycling_of<Pool>(config).aged ? before.total : 0u));
    BOOST_TEST(after.closed.idle == before.closed.idle);
    BOOST_TEST(after.total == before.total);
    BOOST_TEST(after.created - before.created == after.closed.aged - before.closed.aged);
}

BOOST_AUTO_TEST_CASE_TEMPLATE(periodic_check_fails_on_a_corrupted_page, Pool, matrix::pools) {
    auto pool = open<Pool>();
    pool->write([](sqlpool::connection& c) { c.exec("INSERT INTO t(v) VALUES(1), (2), (3)"); });
    const auto root = pool->read([](sqlpool::connection& c) {
        return c.query_value<std::int64_t>("SELECT rootpage FROM sqlite_schema WHERE name = 't'");
    });
    const auto before = pool->stats();
    matrix::corrupt_page(path, root);
    clock.advance(config.health_check_interval);
    pool->maintain();
    const bool notices = sqlpool::includes(matrix::health_of<Pool>.corrupted, sqlpool::check_point::periodic);
    BOOST_TEST(pool->stats().failed_health_checks - before.failed_health_checks ==
               (notices ? before.idle : 0u));
    BOOST_TEST(failures->periodic == static_cast<int>(notices ? before.idle : 0u));
}

BOOST_AUTO_TEST_CASE_TEMPLATE(periodic_check_fails_on_a_replaced_file, Pool, matrix::pools) {
    auto pool = open<Pool>();
    const auto before = pool->stats();
    matrix::replace_file(dir, path);
    clock.advance(config.health_check_interval);
    pool->maintain();
    const bool notices = sqlpool::includes(matrix::health_of<Pool>.replaced, sqlpool::check_point::periodic);
    BOOST_TEST(pool->stats().failed_health_checks - before.failed_health_checks ==
               (notices ? before.idle : 0u));
    BOOST_TEST(failures->periodic == static_cast<int>(notices ? before.idle : 0u));
}

BOOST_AUTO_TEST_CASE_TEMPLATE(checkout_check_hands_out_a_connection_to_the_replacing_file, Pool,
                              matrix::pools) {
    auto pool = open<Pool>();
    matrix::replace_file(dir, path);
    clock.advance(1s); // past ping's checkout_bypass, short of the periodic interval
    auto lease = pool->acquire();
    const bool notices =
        sqlpool::includes(matrix::health_of<Pool>.replaced, sqlpool::check_point::on_checkout);
    BOOST_TEST(failures->on_checkout == (notices ? 1 : 0));
    // A connection that noticed was replaced by one opened on the file now at the path.
    BOOST_TEST(lease->template query_value<std::int64_t>(
                   "SELECT count(*) FROM sqlite_schema WHERE name = 'restored'") == (notices ? 1 : 0));
}

BOOST_AUTO_TEST_CASE_TEMPLATE(close_refuses_acquires_and_closes_every_connection, Pool, matrix::pools) {
    auto pool = open<Pool>();
    auto held = pool->acquire();
    (void)pool->acquire();         // a second connection, idle again
    BOOST_TEST(!pool->close(0ms)); // one connection is still leased
    BOOST_TEST(pool->closed());
    BOOST_TEST(pool->stats().total == 1u); // the idle ones closed at once
    BOOST_CHECK_THROW((void)pool->acquire(), sqlpool::pool_closed_error);
    held.release(); // closes instead of going back
    const auto s = pool->stats();
    BOOST_TEST(s.total == 0u);
    BOOST_TEST(s.in_use == 0u);
    BOOST_TEST(s.closed.shutdown == s.created);
    BOOST_TEST(pool->close(0ms));
}

BOOST_AUTO_TEST_SUITE_END()
