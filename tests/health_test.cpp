// Health policies: the health_policy concept, and what ping, quick_check, no_check, file_identity
// and all_of report.
#define BOOST_TEST_MODULE health
#include <boost/test/unit_test.hpp>

#include <sys/stat.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <type_traits>
#include <utility>

#include "support/temp_dir.hpp"

import sqlpool;

// Concepts: a type that misses or misspells what a concept names does not satisfy it, and
// basic_pool refuses it; every stock policy does satisfy its concept.

namespace bad {

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

} // namespace bad

static_assert(!sqlpool::health_policy<bad::no_when>);
static_assert(!sqlpool::health_policy<bad::check_returns_bool>);
static_assert(!sqlpool::health_policy<bad::health_not_copyable>);

// basic_pool's parameters are constrained: a bad policy in any position is refused.
template <class H>
concept pool_takes_health = requires { typename sqlpool::basic_pool<sqlpool::locking::std_mutex, H>; };
static_assert(!pool_takes_health<bad::check_returns_bool>);

static_assert(sqlpool::health_policy<sqlpool::health::ping>);
static_assert(sqlpool::health_policy<sqlpool::health::file_identity>);
static_assert(sqlpool::health_policy<sqlpool::health::quick_check>);
static_assert(sqlpool::health_policy<sqlpool::health::no_check>);
static_assert(
    sqlpool::health_policy<sqlpool::health::all_of<sqlpool::health::ping, sqlpool::health::quick_check>>);

// The stock check points.
static_assert(sqlpool::includes(sqlpool::health::ping::when, sqlpool::check_point::on_checkout));
static_assert(!sqlpool::includes(sqlpool::health::quick_check::when, sqlpool::check_point::on_checkout));
static_assert(sqlpool::health::no_check::when == sqlpool::check_point::none);

// Stock policies are empty, so [[no_unique_address]] makes them free inside the pool.
static_assert(std::is_empty_v<sqlpool::health::ping>);

namespace {

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

struct fixture {
    sqlpool_test::temp_dir dir{"health"};
    std::string path = dir.file("p.db");
    sqlpool::connection conn{path};
};

} // namespace

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
