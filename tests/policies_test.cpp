#define BOOST_TEST_MODULE policies
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <type_traits>
#include <vector>

#include <sys/stat.h>

#include "support/manual_clock.hpp"
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
    static constexpr bool concurrent = true;
};
struct no_concurrent_flag {
    using mutex_type = std::mutex;
    using condition_type = std::condition_variable;
};
struct condition_cannot_wait {
    using mutex_type = std::mutex;
    using condition_type = int;
    static constexpr bool concurrent = true;
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
    sqlpool::retire_reason retire(const sqlpool::connection_info&, steady::time_point,
                                  const sqlpool::pool_config&) {
        return sqlpool::retire_reason::none;
    }
};
struct retire_returns_bool {
    bool retire(const sqlpool::connection_info&, steady::time_point, const sqlpool::pool_config&) const {
        return false;
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
static_assert(!sqlpool::locking_policy<bad::no_concurrent_flag>);
static_assert(!sqlpool::locking_policy<bad::condition_cannot_wait>);
static_assert(!sqlpool::locking_policy<int>);
static_assert(!sqlpool::health_policy<bad::no_when>);
static_assert(!sqlpool::health_policy<bad::check_returns_bool>);
static_assert(!sqlpool::health_policy<bad::health_not_copyable>);
static_assert(!sqlpool::recycling_policy<bad::retire_without_config>);
static_assert(!sqlpool::recycling_policy<bad::retire_not_const>);
static_assert(!sqlpool::recycling_policy<bad::retire_returns_bool>);
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
template <class C>
concept pool_takes_clock = requires {
    typename sqlpool::basic_pool<sqlpool::locking::std_mutex, sqlpool::health::ping,
                                 sqlpool::recycling::standard, sqlpool::isolation::deferred, C>;
};
static_assert(!pool_takes_locking<bad::no_concurrent_flag>);
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
static_assert(sqlpool::isolation_policy<sqlpool::isolation::read_write_split>);
static_assert(sqlpool::pool_clock<steady>);
static_assert(sqlpool::pool_clock<sqlpool_test::manual_clock>);

// The stock isolation levels and check points.
static_assert(sqlpool::isolation::deferred::default_level == sqlpool::isolation_level::deferred);
static_assert(sqlpool::isolation::deferred::write_level == sqlpool::isolation_level::immediate);
static_assert(sqlpool::isolation::immediate::default_level == sqlpool::isolation_level::immediate);
static_assert(sqlpool::isolation::exclusive::write_level == sqlpool::isolation_level::exclusive);
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
    sqlpool::retire_reason retire(const sqlpool::connection_info&, steady::time_point,
                                  const sqlpool::pool_config&) const {
        return Reason;
    }
};

struct fixture {
    sqlpool_test::temp_dir dir{"policies"};
    std::string path = dir.file("p.db");
    sqlpool::connection conn{path};
    sqlpool::pool_config config{.database = path};
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
    BOOST_TEST(name(policy.retire(info, t0 + 90s - 1ns, config)) == "none");
    BOOST_TEST(name(policy.retire(info, t0 + 90s, config)) == "aged");
    BOOST_TEST(name(policy.retire(info, t0 + 1000h, config)) == "aged");
    // Age counts from creation, not from the last use.
    info.last_used_at = t0 + 89s;
    BOOST_TEST(name(policy.retire(info, t0 + 90s, config)) == "aged");
    info.age_jitter = 0.0;
    BOOST_TEST(name(policy.retire(info, t0 + 99s, config)) == "none");
    BOOST_TEST(name(policy.retire(info, t0 + 100s, config)) == "aged");
}

BOOST_AUTO_TEST_CASE(max_uses_from_template_or_config) {
    const steady::time_point now{1h};
    auto info = info_created_at(now);
    info.use_count = 2;
    BOOST_TEST(name(sqlpool::recycling::max_uses<3>{}.retire(info, now, config)) == "none");
    info.use_count = 3;
    BOOST_TEST(name(sqlpool::recycling::max_uses<3>{}.retire(info, now, config)) == "uses");
    BOOST_TEST(name(sqlpool::recycling::max_uses<4>{}.retire(info, now, config)) == "none");
    // Limit 0 takes config.max_uses, where 0 means unlimited.
    info.use_count = 1'000'000;
    BOOST_TEST(name(sqlpool::recycling::max_uses<>{}.retire(info, now, config)) == "none");
    config.max_uses = 2;
    info.use_count = 1;
    BOOST_TEST(name(sqlpool::recycling::max_uses<>{}.retire(info, now, config)) == "none");
    info.use_count = 2;
    BOOST_TEST(name(sqlpool::recycling::max_uses<>{}.retire(info, now, config)) == "uses");
    // An explicit limit wins over the config's.
    BOOST_TEST(name(sqlpool::recycling::max_uses<5>{}.retire(info, now, config)) == "none");
}

BOOST_AUTO_TEST_CASE(idle_timeout_counts_from_the_last_use) {
    const steady::time_point t0{1h};
    config.idle_timeout = 60s;
    auto info = info_created_at(t0);
    const sqlpool::recycling::idle_timeout policy;
    BOOST_TEST(name(policy.retire(info, t0 + 59s, config)) == "none");
    BOOST_TEST(name(policy.retire(info, t0 + 60s, config)) == "idle");
    info.last_used_at = t0 + 30s; // used since: the idle clock restarts
    BOOST_TEST(name(policy.retire(info, t0 + 60s, config)) == "none");
    BOOST_TEST(name(policy.retire(info, t0 + 90s, config)) == "idle");
}

BOOST_AUTO_TEST_CASE(never_keeps_everything) {
    const steady::time_point t0{1h};
    auto info = info_created_at(t0);
    info.use_count = 1'000'000;
    config.max_uses = 1;
    BOOST_TEST(name(sqlpool::recycling::never{}.retire(info, t0 + 1000h, config)) == "none");
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
    BOOST_TEST(name(uses_then_aged{}.retire(info, now, config)) == "uses");
    BOOST_TEST(name(aged_then_uses{}.retire(info, now, config)) == "aged");
    BOOST_TEST(name(nobody{}.retire(info, now, config)) == "none");
    BOOST_TEST(name(sqlpool::recycling::any_of<>{}.retire(info, now, config)) == "none");
}

BOOST_AUTO_TEST_CASE(standard_applies_every_config_knob) {
    const steady::time_point t0{1h};
    config.connection_max_age = 100s;
    config.max_age_jitter = 0.0;
    config.idle_timeout = 60s;
    config.max_uses = 10;
    auto info = info_created_at(t0);
    const sqlpool::recycling::standard policy;
    BOOST_TEST(name(policy.retire(info, t0 + 59s, config)) == "none");
    BOOST_TEST(name(policy.retire(info, t0 + 60s, config)) == "idle");
    info.last_used_at = t0 + 90s;
    BOOST_TEST(name(policy.retire(info, t0 + 100s, config)) == "aged");
    info.use_count = 10;
    BOOST_TEST(name(policy.retire(info, t0 + 91s, config)) == "uses");
    // Order: max_age, then max_uses, then idle_timeout.
    BOOST_TEST(name(policy.retire(info, t0 + 1000s, config)) == "aged");
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
    static_assert(!sqlpool::locking::single_thread::concurrent);
    static_assert(sqlpool::locking::std_mutex::concurrent && sqlpool::locking::spin::concurrent);
}

BOOST_AUTO_TEST_SUITE_END()
