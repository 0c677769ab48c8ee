#define BOOST_TEST_MODULE policies
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#include "support/scratch_dir.hpp"

import sqlpool;

using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

// Types that miss a member a concept names must not satisfy it.
namespace bad {
struct no_mutex {
    using condition_type = std::condition_variable;
    static constexpr bool concurrent = true;
};
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
struct retire_without_config {
    sqlpool::retire_reason retire(const sqlpool::connection_info&, steady::time_point) const {
        return sqlpool::retire_reason::none;
    }
};
struct no_write_level {
    static constexpr sqlpool::isolation_level default_level = sqlpool::isolation_level::deferred;
};
struct wall_clock {
    std::chrono::system_clock::time_point now() const { return std::chrono::system_clock::now(); }
};
} // namespace bad

static_assert(!sqlpool::locking_policy<bad::no_mutex>);
static_assert(!sqlpool::health_policy<bad::no_when>);
static_assert(!sqlpool::health_policy<bad::check_returns_bool>);
static_assert(!sqlpool::recycling_policy<bad::retire_without_config>);
static_assert(!sqlpool::isolation_policy<bad::no_write_level>);
static_assert(!sqlpool::pool_clock<bad::wall_clock>);

static_assert(sqlpool::locking_policy<sqlpool::locking::std_mutex>);
static_assert(sqlpool::locking_policy<sqlpool::locking::spin>);
static_assert(sqlpool::locking_policy<sqlpool::locking::single_thread>);
static_assert(sqlpool::health_policy<sqlpool::health::ping>);
static_assert(sqlpool::health_policy<sqlpool::health::file_identity>);
static_assert(sqlpool::health_policy<sqlpool::health::quick_check>);
static_assert(sqlpool::health_policy<sqlpool::health::no_check>);
static_assert(
    sqlpool::health_policy<sqlpool::health::all_of<sqlpool::health::ping, sqlpool::health::quick_check>>);
static_assert(sqlpool::recycling_policy<sqlpool::recycling::standard>);
static_assert(sqlpool::recycling_policy<sqlpool::recycling::never>);
static_assert(sqlpool::isolation_policy<sqlpool::isolation::read_write_split>);
static_assert(sqlpool::pool_clock<steady>);

// Stock policies are empty, so [[no_unique_address]] makes them free inside the pool.
static_assert(std::is_empty_v<sqlpool::health::ping> && std::is_empty_v<sqlpool::recycling::max_age>);

namespace {

sqlpool::connection_info info_created_at(steady::time_point t) {
    sqlpool::connection_info info;
    info.created_at = info.last_used_at = info.last_checked_at = t;
    return info;
}

struct fixture {
    sqlpool_test::scratch_dir dir{"policies"};
    std::string path = dir.file("p.db");
    sqlpool::connection conn{path};
    sqlpool::pool_config config{.database = path};
};

} // namespace

BOOST_FIXTURE_TEST_SUITE(recycling, fixture)

BOOST_AUTO_TEST_CASE(max_age_applies_the_connection_jitter) {
    const auto t0 = steady::now();
    config.connection_max_age = 100s;
    config.max_age_jitter = 0.2;
    auto info = info_created_at(t0);
    info.age_jitter = 0.5; // lifetime 100 s × (1 − 0.2 × 0.5) = 90 s
    const sqlpool::recycling::max_age policy;
    BOOST_TEST((policy.retire(info, t0 + 89s, config) == sqlpool::retire_reason::none));
    BOOST_TEST((policy.retire(info, t0 + 90s, config) == sqlpool::retire_reason::aged));
    info.age_jitter = 0.0;
    BOOST_TEST((policy.retire(info, t0 + 99s, config) == sqlpool::retire_reason::none));
}

BOOST_AUTO_TEST_CASE(max_uses_from_template_or_config) {
    auto info = info_created_at(steady::now());
    info.use_count = 3;
    BOOST_TEST((sqlpool::recycling::max_uses<3>{}.retire(info, steady::now(), config) ==
                sqlpool::retire_reason::uses));
    BOOST_TEST((sqlpool::recycling::max_uses<4>{}.retire(info, steady::now(), config) ==
                sqlpool::retire_reason::none));
    BOOST_TEST((sqlpool::recycling::max_uses<>{}.retire(info, steady::now(), config) ==
                sqlpool::retire_reason::none));
    config.max_uses = 2;
    BOOST_TEST((sqlpool::recycling::max_uses<>{}.retire(info, steady::now(), config) ==
                sqlpool::retire_reason::uses));
}

BOOST_AUTO_TEST_CASE(idle_timeout_and_any_of) {
    const auto t0 = steady::now();
    config.idle_timeout = 60s;
    const auto info = info_created_at(t0);
    BOOST_TEST(
        (sqlpool::recycling::idle_timeout{}.retire(info, t0 + 59s, config) == sqlpool::retire_reason::none));
    BOOST_TEST(
        (sqlpool::recycling::idle_timeout{}.retire(info, t0 + 60s, config) == sqlpool::retire_reason::idle));
    BOOST_TEST(
        (sqlpool::recycling::never{}.retire(info, t0 + 1000h, config) == sqlpool::retire_reason::none));
    config.connection_max_age = 30s;
    // any_of: the first policy that wants the connection gone names the reason.
    BOOST_TEST(
        (sqlpool::recycling::standard{}.retire(info, t0 + 61s, config) == sqlpool::retire_reason::aged));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(health, fixture)

BOOST_AUTO_TEST_CASE(ping_fails_inside_an_open_transaction) {
    const sqlpool::health::ping ping;
    const sqlpool::connection_info info;
    BOOST_TEST(
        (ping.check(conn, info, sqlpool::check_point::on_checkout) == sqlpool::health_status::healthy));
    conn.exec("BEGIN");
    BOOST_TEST(
        (ping.check(conn, info, sqlpool::check_point::on_checkout) == sqlpool::health_status::unhealthy));
    conn.exec("ROLLBACK");
}

BOOST_AUTO_TEST_CASE(quick_check_passes_on_a_sound_file) {
    conn.exec("CREATE TABLE t(v); INSERT INTO t VALUES(1);");
    BOOST_TEST((sqlpool::health::quick_check{}.check(conn, {}, sqlpool::check_point::periodic) ==
                sqlpool::health_status::healthy));
}

BOOST_AUTO_TEST_CASE(file_identity_detects_a_replaced_file) {
    sqlpool::pool pool{sqlpool::pool_config{.database = path, .background_maintenance = false}};
    auto lease = pool.acquire();
    const sqlpool::health::file_identity identity;
    BOOST_TEST(lease.info().file_inode != 0u);
    BOOST_TEST((identity.check(*lease, lease.info(), sqlpool::check_point::periodic) ==
                sqlpool::health_status::healthy));
    // A restore that renames a new file over the old one: same path, another inode.
    const auto other = dir.file("other.db");
    {
        sqlpool::connection fresh{other};
    }
    std::filesystem::rename(other, path);
    BOOST_TEST((identity.check(*lease, lease.info(), sqlpool::check_point::periodic) ==
                sqlpool::health_status::unhealthy));
}

BOOST_AUTO_TEST_CASE(file_identity_is_unknown_for_memory) {
    sqlpool::pool pool{sqlpool::pool_config{.database = ":memory:", .background_maintenance = false}};
    auto lease = pool.acquire();
    BOOST_TEST(
        (sqlpool::health::file_identity{}.check(*lease, lease.info(), sqlpool::check_point::periodic) ==
         sqlpool::health_status::unknown));
}

struct always {
    static constexpr sqlpool::check_point when = sqlpool::check_point::on_return;
    sqlpool::health_status status;
    sqlpool::health_status check(sqlpool::connection&, const sqlpool::connection_info&,
                                 sqlpool::check_point) const {
        return status;
    }
};

BOOST_AUTO_TEST_CASE(all_of_reports_the_worst_of_the_parts_that_run) {
    using combined = sqlpool::health::all_of<sqlpool::health::ping, always>;
    static_assert(sqlpool::includes(combined::when, sqlpool::check_point::on_return));
    static_assert(sqlpool::includes(combined::when, sqlpool::check_point::periodic));
    combined policy{{sqlpool::health::ping{}, always{sqlpool::health_status::unhealthy}}};
    // on_checkout: only ping runs, and it is healthy.
    BOOST_TEST(
        (policy.check(conn, {}, sqlpool::check_point::on_checkout) == sqlpool::health_status::healthy));
    // on_return: `always` runs and says unhealthy.
    BOOST_TEST(
        (policy.check(conn, {}, sqlpool::check_point::on_return) == sqlpool::health_status::unhealthy));
    std::get<1>(policy.policies).status = sqlpool::health_status::unknown;
    BOOST_TEST((policy.check(conn, {}, sqlpool::check_point::on_return) == sqlpool::health_status::unknown));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_CASE(spin_mutex_excludes) {
    sqlpool::locking::spin_mutex mutex;
    BOOST_TEST(mutex.try_lock());
    BOOST_TEST(!mutex.try_lock());
    mutex.unlock();
    std::int64_t counter = 0;
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
