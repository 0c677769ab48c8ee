#define BOOST_TEST_MODULE config
#include <boost/test/unit_test.hpp>

#include <sqlite3.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdlib>
#include <exception>
#include <functional>
#include <future>
#include <latch>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "support/scratch_dir.hpp"

import sqlpool;

using namespace std::chrono_literals;

namespace {

// A configuration with no problem at all, the base each case breaks in one way.
sqlpool::pool_config valid() {
    return sqlpool::pool_config{.database = "test.db"};
}

sqlpool::pool_config valid_at(const std::string& database) {
    auto config = valid();
    config.database = database;
    config.pragmas = {{"cache_size", "-2000"}};
    return config;
}

// validate() reports exactly one problem, and it is `expected`.
void expect_single_problem(const sqlpool::pool_config& config, const std::string& expected) {
    const auto problems = config.validate();
    BOOST_TEST_REQUIRE(problems.size() == 1u, "problems: " << problems.size() << " for " << expected);
    BOOST_TEST(problems.front() == expected);
    try {
        config.check();
        BOOST_ERROR("check() did not throw for: " << expected);
    } catch (const sqlpool::config_error& e) {
        BOOST_TEST(e.problems() == problems);
        BOOST_TEST(std::string(e.what()) == "invalid configuration: " + expected);
    }
}

bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

} // namespace

BOOST_AUTO_TEST_SUITE(defaults)

BOOST_AUTO_TEST_CASE(documented_defaults) {
    const sqlpool::pool_config config;
    BOOST_TEST(config.database.empty());
    BOOST_TEST((config.mode == sqlpool::open_mode::read_write_create));
    BOOST_TEST(config.busy_timeout.count() == std::chrono::milliseconds(2s).count());
    BOOST_TEST(!config.nofollow);
    BOOST_TEST((config.journal == sqlpool::journal_mode::wal));
    BOOST_TEST((config.synchronous == sqlpool::synchronous_mode::normal));
    BOOST_TEST(config.foreign_keys);
    BOOST_TEST(config.pragmas.empty());
    BOOST_TEST(config.statement_cache_size == 64u);
    BOOST_TEST(config.min_connections == 1u);
    BOOST_TEST(config.max_connections == 8u);
    BOOST_TEST(config.acquire_timeout.count() == std::chrono::milliseconds(5s).count());
    BOOST_TEST(config.connection_max_age.count() == std::chrono::milliseconds(30min).count());
    BOOST_TEST(config.max_age_jitter == 0.10);
    BOOST_TEST(config.idle_timeout.count() == std::chrono::milliseconds(10min).count());
    BOOST_TEST(config.health_check_interval.count() == std::chrono::milliseconds(30s).count());
    BOOST_TEST(config.max_uses == 0u);
    BOOST_TEST(config.transaction_timeout.count() > 0);
    BOOST_TEST(config.close_timeout.count() == std::chrono::milliseconds(30s).count());
    BOOST_TEST(config.background_maintenance);
    BOOST_TEST(config.maintenance_interval.count() == std::chrono::milliseconds(1s).count());
    BOOST_TEST(std::string(sqlpool::to_string(config.checkpoints)) == "managed");
    BOOST_TEST(config.wal_soft_limit == 4u << 20);
    BOOST_TEST(config.wal_hard_limit == 16u << 20);
    BOOST_TEST(config.reader_gap.count() == 200);
    BOOST_TEST(config.lease_warn_after.count() == std::chrono::milliseconds(60s).count());
    BOOST_TEST(config.optimize);
    BOOST_TEST(!config.on_connect);
}

BOOST_AUTO_TEST_CASE(defaults_are_valid_once_a_database_is_named) {
    BOOST_TEST(valid().validate().empty());
    BOOST_CHECK_NO_THROW(valid().check());
    auto memory = valid();
    memory.database = ":memory:";
    BOOST_TEST(memory.validate().empty());
}

BOOST_AUTO_TEST_CASE(default_config_only_lacks_a_database) {
    const auto problems = sqlpool::pool_config{}.validate();
    BOOST_TEST_REQUIRE(problems.size() == 1u);
    BOOST_TEST(problems.front() == "database is empty, must name a file or \":memory:\"");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(single_violations)

BOOST_AUTO_TEST_CASE(empty_database) {
    auto config = valid();
    config.database.clear();
    expect_single_problem(config, "database is empty, must name a file or \":memory:\"");
}

BOOST_AUTO_TEST_CASE(zero_max_connections) {
    auto config = valid();
    config.max_connections = 0; // min_connections (1) > 0 is not reported twice
    expect_single_problem(config, "max_connections is 0, must be >= 1");
}

BOOST_AUTO_TEST_CASE(min_exceeds_max) {
    auto config = valid();
    config.min_connections = 5;
    config.max_connections = 4;
    expect_single_problem(config, "min_connections (5) exceeds max_connections (4)");
}

BOOST_AUTO_TEST_CASE(min_equal_to_max_and_zero_min_are_fine) {
    auto config = valid();
    config.min_connections = 4;
    config.max_connections = 4;
    BOOST_TEST(config.validate().empty());
    config.min_connections = 0;
    BOOST_TEST(config.validate().empty());
}

BOOST_AUTO_TEST_CASE(every_duration_must_be_positive) {
    using field = std::chrono::milliseconds sqlpool::pool_config::*;
    const std::vector<std::pair<std::string, field>> fields{
        {"acquire_timeout", &sqlpool::pool_config::acquire_timeout},
        {"connection_max_age", &sqlpool::pool_config::connection_max_age},
        {"idle_timeout", &sqlpool::pool_config::idle_timeout},
        {"health_check_interval", &sqlpool::pool_config::health_check_interval},
        {"transaction_timeout", &sqlpool::pool_config::transaction_timeout},
        {"maintenance_interval", &sqlpool::pool_config::maintenance_interval},
        {"reader_gap", &sqlpool::pool_config::reader_gap},
    };
    for (const auto& [name, member] : fields) {
        BOOST_TEST_CONTEXT(name) {
            auto config = valid();
            config.*member = 0ms;
            expect_single_problem(config, name + " must be positive, is 0ms");
            config.*member = -5ms;
            expect_single_problem(config, name + " must be positive, is -5ms");
            config.*member = 1ms;
            if (name == "acquire_timeout") config.busy_timeout = 0ms; // keep acquire > busy
            BOOST_TEST(config.validate().empty());
        }
    }
}

BOOST_AUTO_TEST_CASE(lease_warn_after_may_be_zero_but_not_negative) {
    auto config = valid();
    config.lease_warn_after = 0ms; // off
    BOOST_TEST(config.validate().empty());
    config.lease_warn_after = -1ms;
    expect_single_problem(config, "lease_warn_after must not be negative, is -1ms");
    const auto parsed = sqlpool::pool_config::parse("database=x.db lease_warn_after=2min");
    BOOST_TEST(parsed.lease_warn_after.count() == std::chrono::milliseconds(2min).count());
}

BOOST_AUTO_TEST_CASE(negative_busy_timeout) {
    auto config = valid();
    config.busy_timeout = -1ms;
    expect_single_problem(config, "busy_timeout must not be negative, is -1ms");
    config.busy_timeout = 0ms; // zero: do not wait for locks at all
    BOOST_TEST(config.validate().empty());
}

BOOST_AUTO_TEST_CASE(negative_close_timeout) {
    auto config = valid();
    config.close_timeout = -1ms;
    expect_single_problem(config, "close_timeout must not be negative, is -1ms");
    config.close_timeout = 0ms; // zero: close without waiting for leases
    BOOST_TEST(config.validate().empty());
}

BOOST_AUTO_TEST_CASE(acquire_timeout_not_longer_than_busy_timeout) {
    auto config = valid();
    config.busy_timeout = 2s;
    config.acquire_timeout = 2s;
    expect_single_problem(config, "acquire_timeout (2000ms) must be longer than busy_timeout (2000ms)");
    config.acquire_timeout = 1s;
    expect_single_problem(config, "acquire_timeout (1000ms) must be longer than busy_timeout (2000ms)");
    config.acquire_timeout = 2001ms;
    BOOST_TEST(config.validate().empty());
}

BOOST_AUTO_TEST_CASE(checkpoint_limits_and_the_pragma_they_own) {
    auto config = valid();
    config.wal_soft_limit = 0;
    expect_single_problem(config, "wal_soft_limit is 0, must be >= 1 (bytes)");
    config.wal_soft_limit = 2048;
    config.wal_hard_limit = 1024;
    expect_single_problem(config, "wal_hard_limit (1024) is less than wal_soft_limit (2048)");
    config.wal_hard_limit = 2048;
    BOOST_TEST(config.validate().empty());
    config.pragmas = {{"wal_autocheckpoint", "500"}};
    expect_single_problem(config, "pragma wal_autocheckpoint is set, but checkpoints=managed takes automatic "
                                  "checkpoints away from SQLite: set checkpoints=sqlite to use it");
    config.checkpoints = sqlpool::checkpoint_mode::external;
    BOOST_TEST(config.validate().size() == 1u);
    config.checkpoints = sqlpool::checkpoint_mode::sqlite;
    BOOST_TEST(config.validate().empty());
}

BOOST_AUTO_TEST_CASE(jitter_outside_zero_to_one) {
    auto config = valid();
    config.max_age_jitter = 1.5;
    expect_single_problem(config, "max_age_jitter is 1.500000, must be within 0..1");
    config.max_age_jitter = -0.25;
    expect_single_problem(config, "max_age_jitter is -0.250000, must be within 0..1");
    config.max_age_jitter = std::numeric_limits<double>::quiet_NaN();
    BOOST_TEST(config.validate().size() == 1u);
    BOOST_TEST(contains(config.validate().front(), "max_age_jitter is"));
    for (const double fine : {0.0, 0.5, 1.0}) {
        config.max_age_jitter = fine;
        BOOST_TEST(config.validate().empty(), "jitter " << fine);
    }
}

BOOST_AUTO_TEST_CASE(statement_cache_too_large) {
    auto config = valid();
    config.statement_cache_size = 100'001;
    expect_single_problem(config, "statement_cache_size is 100001, must be <= 100000");
    config.statement_cache_size = 100'000;
    BOOST_TEST(config.validate().empty());
    config.statement_cache_size = 0; // disables the cache
    BOOST_TEST(config.validate().empty());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(all_at_once)

BOOST_AUTO_TEST_CASE(every_violation_is_reported_in_one_error) {
    sqlpool::pool_config config;
    config.database = "";
    config.min_connections = 5;
    config.max_connections = 4;
    config.acquire_timeout = 0ms;
    config.connection_max_age = -1ms;
    config.idle_timeout = 0ms;
    config.health_check_interval = 0ms;
    config.transaction_timeout = 0ms;
    config.maintenance_interval = 0ms;
    config.busy_timeout = -3ms;
    config.close_timeout = -4ms;
    config.max_age_jitter = 2.0;
    config.statement_cache_size = 200'000;
    const std::vector<std::string> expected{
        "database is empty, must name a file or \":memory:\"",
        "min_connections (5) exceeds max_connections (4)",
        "acquire_timeout must be positive, is 0ms",
        "connection_max_age must be positive, is -1ms",
        "idle_timeout must be positive, is 0ms",
        "health_check_interval must be positive, is 0ms",
        "transaction_timeout must be positive, is 0ms",
        "maintenance_interval must be positive, is 0ms",
        "busy_timeout must not be negative, is -3ms",
        "close_timeout must not be negative, is -4ms",
        "max_age_jitter is 2.000000, must be within 0..1",
        "statement_cache_size is 200000, must be <= 100000",
    };
    BOOST_TEST(config.validate() == expected, boost::test_tools::per_element());
    try {
        config.check();
        BOOST_FAIL("check() did not throw");
    } catch (const sqlpool::config_error& e) {
        BOOST_TEST(e.problems() == expected, boost::test_tools::per_element());
        const std::string what = e.what();
        std::string joined = "invalid configuration: ";
        for (std::size_t i = 0; i < expected.size(); ++i) joined += (i == 0 ? "" : "; ") + expected[i];
        BOOST_TEST(what == joined);
    }
}

BOOST_AUTO_TEST_CASE(max_zero_and_acquire_not_longer_than_busy_together) {
    auto config = valid();
    config.max_connections = 0;
    config.acquire_timeout = 1s;
    config.busy_timeout = 1s;
    const auto problems = config.validate();
    BOOST_TEST_REQUIRE(problems.size() == 2u);
    BOOST_TEST(problems[0] == "max_connections is 0, must be >= 1");
    BOOST_TEST(problems[1] == "acquire_timeout (1000ms) must be longer than busy_timeout (1000ms)");
}

BOOST_AUTO_TEST_CASE(config_error_is_an_sqlpool_error) {
    auto config = valid();
    config.max_connections = 0;
    BOOST_CHECK_THROW(config.check(), sqlpool::error);
    BOOST_CHECK_THROW(config.check(), std::runtime_error);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(connection_options)

BOOST_AUTO_TEST_CASE(copies_every_connection_setting) {
    sqlpool::pool_config config{.database = "/some/where.db",
                                .mode = sqlpool::open_mode::read_only,
                                .busy_timeout = 1234ms,
                                .nofollow = true,
                                .journal = sqlpool::journal_mode::truncate,
                                .synchronous = sqlpool::synchronous_mode::full,
                                .foreign_keys = false,
                                .pragmas = {{"cache_size", "-2000"}, {"temp_store", "memory"}},
                                .statement_cache_size = 7};
    const sqlpool::open_options options = config.connection_options();
    BOOST_TEST(options.path == "/some/where.db");
    BOOST_TEST((options.mode == sqlpool::open_mode::read_only));
    BOOST_TEST(options.busy_timeout.count() == 1234);
    BOOST_TEST(options.nofollow);
    BOOST_TEST((options.journal == sqlpool::journal_mode::truncate));
    BOOST_TEST((options.synchronous == sqlpool::synchronous_mode::full));
    BOOST_TEST(!options.foreign_keys);
    BOOST_TEST_REQUIRE(options.pragmas.size() == 2u);
    BOOST_TEST(options.pragmas[0].first == "cache_size");
    BOOST_TEST(options.pragmas[0].second == "-2000");
    BOOST_TEST(options.pragmas[1].first == "temp_store");
    BOOST_TEST(options.pragmas[1].second == "memory");
    BOOST_TEST(options.statement_cache_size == 7u);
}

BOOST_AUTO_TEST_CASE(defaults_match_open_options_defaults) {
    const sqlpool::open_options from_config = sqlpool::pool_config{.database = "x.db"}.connection_options();
    const sqlpool::open_options plain{.path = "x.db"};
    BOOST_TEST(from_config.path == plain.path);
    BOOST_TEST((from_config.mode == plain.mode));
    BOOST_TEST(from_config.busy_timeout.count() == plain.busy_timeout.count());
    BOOST_TEST(from_config.nofollow == plain.nofollow);
    BOOST_TEST((from_config.journal == plain.journal));
    BOOST_TEST((from_config.synchronous == plain.synchronous));
    BOOST_TEST(from_config.foreign_keys == plain.foreign_keys);
    BOOST_TEST(from_config.pragmas.empty());
    BOOST_TEST(from_config.statement_cache_size == plain.statement_cache_size);
    BOOST_TEST(from_config.defensive == plain.defensive);
    BOOST_TEST(from_config.trusted_schema == plain.trusted_schema);
    BOOST_TEST((from_config.file_mode == plain.file_mode));
    BOOST_TEST(from_config.limits.empty());
    BOOST_TEST(!from_config.authorizer);
}

BOOST_AUTO_TEST_CASE(memory_path_is_passed_as_given) {
    // The pool, not the config, turns ":memory:" into a shared in-memory
    // database.
    BOOST_TEST(sqlpool::pool_config{.database = ":memory:"}.connection_options().path == ":memory:");
}

BOOST_AUTO_TEST_SUITE_END()

// Issue 11, part 4: a configuration validate() accepts works as written; one
// the pool would refuse, or would silently run differently, is refused by
// validate() with the field named.
namespace {

// A pool that counts what its maintenance does: health::ping counting periodic
// checks, and recycling::standard counting the connections it is asked about.
struct counting_health {
    static constexpr sqlpool::check_point when = sqlpool::health::ping::when;
    std::shared_ptr<std::atomic<int>> periodic = std::make_shared<std::atomic<int>>(0);
    sqlpool::health_status check(sqlpool::connection& conn, const sqlpool::connection_info& info,
                                 sqlpool::check_point point) const {
        if (point == sqlpool::check_point::periodic) ++*periodic;
        return sqlpool::health::ping{}.check(conn, info, point);
    }
};
struct counting_recycling {
    std::shared_ptr<std::atomic<int>> asked = std::make_shared<std::atomic<int>>(0);
    [[nodiscard]] sqlpool::retire_reason retire(const sqlpool::connection_info& info,
                                                const sqlpool::recycle_context& context) const {
        ++*asked;
        return sqlpool::recycling::standard{}.retire(info, context);
    }
};
using observed_pool = sqlpool::basic_pool<sqlpool::locking::std_mutex, counting_health, counting_recycling>;

// Counts down a latch when the pool starts closing.
struct close_signal : sqlpool::pool_listener {
    std::latch started{1};
    void on_close() override { started.count_down(); }
};

constexpr auto long_enough = std::chrono::hours(1); // a duration no test run reaches

int sqlite_limit_id(sqlpool::limit which) {
    switch (which) {
    case sqlpool::limit::length:
        return SQLITE_LIMIT_LENGTH;
    case sqlpool::limit::sql_length:
        return SQLITE_LIMIT_SQL_LENGTH;
    case sqlpool::limit::column:
        return SQLITE_LIMIT_COLUMN;
    case sqlpool::limit::expr_depth:
        return SQLITE_LIMIT_EXPR_DEPTH;
    case sqlpool::limit::compound_select:
        return SQLITE_LIMIT_COMPOUND_SELECT;
    case sqlpool::limit::vdbe_op:
        return SQLITE_LIMIT_VDBE_OP;
    case sqlpool::limit::function_arg:
        return SQLITE_LIMIT_FUNCTION_ARG;
    case sqlpool::limit::attached:
        return SQLITE_LIMIT_ATTACHED;
    case sqlpool::limit::like_pattern_length:
        return SQLITE_LIMIT_LIKE_PATTERN_LENGTH;
    case sqlpool::limit::variable_number:
        return SQLITE_LIMIT_VARIABLE_NUMBER;
    case sqlpool::limit::trigger_depth:
        return SQLITE_LIMIT_TRIGGER_DEPTH;
    case sqlpool::limit::worker_threads:
        return SQLITE_LIMIT_WORKER_THREADS;
    }
    return -1;
}

// The pool's one connection is leased: a thread blocked in acquire() keeps
// waiting while nothing is released, and gets the connection once it is.
void acquire_waits(sqlpool::pool& pool) {
    auto held = pool.acquire();
    auto waiter = std::async(std::launch::async, [&pool] { return static_cast<bool>(pool.acquire()); });
    while (pool.stats().waiting == 0 && waiter.wait_for(0s) != std::future_status::ready)
        std::this_thread::yield();
    std::this_thread::sleep_for(50ms); // a waiter that gives up early has every chance to
    BOOST_TEST((waiter.wait_for(0s) == std::future_status::timeout),
               "acquire() returned while the only connection was still leased");
    held = sqlpool::lease{};
    BOOST_TEST(waiter.get());
}

// close() started while a lease is out waits for it, and reports every
// connection closed.
void close_waits(sqlpool::pool& pool, close_signal& signal) {
    auto held = pool.acquire();
    std::atomic<bool> released{false};
    auto closer = std::async(std::launch::async, [&] {
        const bool all_closed = pool.close().complete;
        return all_closed && released.load();
    });
    signal.started.wait();
    std::this_thread::sleep_for(50ms); // a close() that does not wait has every chance to return
    BOOST_TEST((closer.wait_for(0s) == std::future_status::timeout), "close() returned with a lease out");
    released = true;
    held = sqlpool::lease{};
    BOOST_TEST(closer.get(), "close() returned true only after the lease came back");
}

// The background maintenance thread and maintain() do nothing before their
// intervals pass.
void maintenance_waits(const sqlpool::pool_config& config) {
    const counting_health health;
    const counting_recycling recycling;
    observed_pool pool(config, health, recycling);
    if (config.background_maintenance && config.maintenance_interval >= long_enough) {
        std::this_thread::sleep_for(50ms); // a spinning maintenance thread runs thousands of rounds
        BOOST_TEST(recycling.asked->load() == 0, "maintenance ran before maintenance_interval passed");
    }
    pool.maintain();
    if (config.health_check_interval >= long_enough)
        BOOST_TEST(health.periodic->load() == 0, "a periodic health check ran before it was due");
}

// A pool built from `config` honours every value in it.
void honours(sqlpool::pool_config config) {
    auto signal = std::make_shared<close_signal>();
    config.listener = signal;
    sqlpool::pool pool(config);
    {
        auto lease = pool.acquire();
        BOOST_TEST(lease->query_value<std::int64_t>("PRAGMA busy_timeout") == config.busy_timeout.count());
        for (const auto& [which, value] : config.limits)
            BOOST_TEST(sqlite3_limit(lease->native_handle(), sqlite_limit_id(which), -1) == value);
        lease->exec("CREATE TABLE IF NOT EXISTS t(x)");
    }
    pool.write([](sqlpool::connection& conn) { conn.exec("INSERT INTO t VALUES (1)"); });
    BOOST_TEST(pool.read([](sqlpool::connection& conn) {
        return conn.query_value<std::int64_t>("SELECT count(*) FROM t");
    }) == 1);
    pool.maintain();
    const auto closed = pool.stats().closed;
    if (config.connection_max_age >= long_enough) BOOST_TEST(closed.aged == 0u);
    if (config.idle_timeout >= long_enough) BOOST_TEST(closed.idle == 0u);
    if (config.max_uses == 0 || config.max_uses > 2) BOOST_TEST(closed.uses == 0u);
    if (config.max_connections == 1 && config.acquire_timeout >= long_enough) acquire_waits(pool);
    if (config.close_timeout >= long_enough) close_waits(pool, *signal);
    BOOST_TEST(pool.close().complete);
    maintenance_waits(config);
}

struct config_row {
    std::string text;
    std::string refused_naming; // empty: accepted
};

using namespace std::string_literals;

// One text per row; `database=` a scratch file is put in front of each.
const std::vector<config_row> config_rows{
    // Durations: at most pool_config::max_duration (100 years = 876582h) each.
    {"acquire_timeout=9999999h max_connections=1", "acquire_timeout"},
    {"acquire_timeout=876583h max_connections=1", "acquire_timeout"},
    {"acquire_timeout=876582h max_connections=1", ""},
    {"connection_max_age=9999999h", "connection_max_age"},
    {"connection_max_age=876582h", ""},
    {"idle_timeout=9999999h min_connections=0", "idle_timeout"},
    {"idle_timeout=876582h min_connections=0", ""},
    {"maintenance_interval=9999999h", "maintenance_interval"},
    {"maintenance_interval=876582h", ""},
    {"close_timeout=9999999h", "close_timeout"},
    {"close_timeout=876582h", ""},
    {"health_check_interval=9999999h", "health_check_interval"},
    {"health_check_interval=876582h", ""},
    {"transaction_timeout=9999999h", "transaction_timeout"},
    {"transaction_timeout=876582h", ""},
    {"acquire_timeout=9223372036854775807ms", "acquire_timeout"},
    {"acquire_timeout=-1ms", "acquire_timeout"},
    // busy_timeout: at most INT_MAX ms, what sqlite3_busy_timeout takes.
    {"busy_timeout=2147483648ms acquire_timeout=876582h", "busy_timeout"},
    {"busy_timeout=9999999h acquire_timeout=876582h", "busy_timeout"},
    {"busy_timeout=2147483647ms acquire_timeout=876582h", ""},
    {"busy_timeout=0ms", ""},
    // Pragmas: a plain name and a plain value, nothing SQLite would read as a
    // second statement.
    {"pragma.synchronous=\"OFF; DROP TABLE t\"", "pragma"},
    {"pragma.cache_size=\"-2000; DROP TABLE t\"", "pragma"},
    {"pragma.cache_size=-2000;", "pragma"},
    {"pragma.bad-name=1", "pragma"},
    {"pragma.encoding=abc", "pragma.encoding"},                     // SQLite refuses the value
    {"pragma.cache_size=am.cache_size5-2000", "pragma.cache_size"}, // not SQL (found by fuzzing)
    {"pragma.cache_size=-2000 pragma.temp_store=memory", ""},
    // The database name: no NUL byte.
    {"database=\"a\0b.db\""s, "database"},
    // Limits: values SQLite keeps as written, under which sqlpool can set up a
    // connection.
    {"limit.length=-1", "limit.length"},
    {"limit.length=2147483648", "limit.length"},
    {"limit.worker_threads=100000", "limit.worker_threads"},
    {"limit.attached=100000", "limit.attached"},
    {"limit.sql_length=5", "limit.sql_length"},
    {"limit.length=1000000 limit.sql_length=100000 limit.attached=0 "
     "limit.worker_threads=0",
     ""},
    // Counts.
    {"max_connections=65536", ""}, // pool_config::max_pool_size
    {"max_connections=65537", "max_connections"},
    {"max_connections=18446744073709551615", "max_connections"},
    {"max_connections=18446744073709551616", "max_connections"},
    {"max_uses=18446744073709551615", ""},
    {"statement_cache_size=100001", "statement_cache_size"},
    {"statement_cache_size=100000", ""},
    {"file_mode=01777", "file_mode"},
    {"max_age_jitter=nan", "max_age_jitter"},
    {"max_age_jitter=1e308", "max_age_jitter"},
};

} // namespace

BOOST_AUTO_TEST_SUITE(extreme_values)

BOOST_AUTO_TEST_CASE(every_row_is_refused_naming_its_field_or_accepted_and_honoured) {
    const sqlpool_test::scratch_dir dir("config");
    int n = 0;
    for (const auto& row : config_rows) {
        BOOST_TEST_CONTEXT("row: " << row.text) {
            const std::string text =
                "database=" + dir.file("row" + std::to_string(n++) + ".db") + " " + row.text;
            std::optional<sqlpool::pool_config> config;
            try {
                config = sqlpool::pool_config::parse(text);
            } catch (const sqlpool::config_error& e) {
                BOOST_TEST(!row.refused_naming.empty(), "refused: " << e.what());
                BOOST_TEST(contains(e.what(), row.refused_naming), "refused: " << e.what());
            } catch (const std::exception& e) {
                BOOST_ERROR("not a config_error: " << e.what());
            }
            if (!config) continue;
            BOOST_TEST(row.refused_naming.empty(), "accepted");
            try {
                honours(*config); // whatever validate() accepts must work as written
            } catch (const std::exception& e) {
                BOOST_ERROR("accepted, but the pool failed: " << e.what());
            }
        }
    }
}

BOOST_AUTO_TEST_CASE(the_maximum_duration_is_named_in_the_error) {
    auto config = valid();
    config.close_timeout = std::chrono::hours(9'999'999);
    const auto problems = config.validate();
    BOOST_TEST_REQUIRE(problems.size() == 1u);
    BOOST_TEST(contains(problems.front(), "close_timeout"));
    BOOST_TEST(contains(problems.front(), std::to_string(sqlpool::pool_config::max_duration.count()) + "ms"));
    BOOST_TEST(contains(problems.front(), "100 years"));
    config.close_timeout = sqlpool::pool_config::max_duration;
    BOOST_TEST(config.validate().empty());
}

BOOST_AUTO_TEST_CASE(fields_text_cannot_set_are_checked_too) {
    auto config = valid();
    config.limits = {{sqlpool::limit::length, -1}};
    BOOST_TEST_REQUIRE(config.validate().size() == 1u);
    BOOST_TEST(contains(config.validate().front(), "limit.length"));
    config = valid();
    config.file_mode = 04755;
    BOOST_TEST_REQUIRE(config.validate().size() == 1u);
    BOOST_TEST(contains(config.validate().front(), "file_mode"));
    config = valid();
    config.pragmas = {{"cache size", "1"}, {"synchronous", "OFF; DROP TABLE t"}};
    BOOST_TEST(config.validate().size() == 2u); // every problem named
    config = valid();
    config.database = std::string("a\0b", 3);
    BOOST_TEST_REQUIRE(config.validate().size() == 1u);
    BOOST_TEST(contains(config.validate().front(), "database"));
}

BOOST_AUTO_TEST_CASE(a_query_only_pool_validates_and_opens) {
    // validate() tries pragmas on a connection; read-only ones must still pass (read_write_pool
    // gives its readers query_only=1 and opens them read-only).
    const sqlpool_test::scratch_dir dir("config");
    auto config = valid();
    config.database = dir.file("q.db");
    config.pragmas = {{"query_only", "1"}};
    config.limits = {{sqlpool::limit::length, 1'000'000}};
    BOOST_TEST(config.validate().empty(), "problems: " << config.validate().size());
    BOOST_CHECK_NO_THROW((sqlpool::read_write_pool<>(valid_at(dir.file("split.db")))));
}

BOOST_AUTO_TEST_CASE(from_env_with_an_equals_sign_in_the_prefix_is_a_config_error) {
    ::setenv("SQLPOOLEQ", "X_DATABASE=a.db",
             1); // environ holds "SQLPOOLEQ=X_DATABASE=a.db"
    try {
        (void)sqlpool::pool_config::from_env("SQLPOOLEQ=X_");
        BOOST_ERROR("no config_error");
    } catch (const sqlpool::config_error& e) {
        BOOST_TEST(contains(e.what(), "prefix"));
    } catch (const std::exception& e) {
        BOOST_ERROR("not a config_error: " << e.what());
    }
    ::unsetenv("SQLPOOLEQ");
}

BOOST_AUTO_TEST_SUITE_END()
