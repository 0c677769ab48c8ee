#define BOOST_TEST_MODULE config
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdlib>
#include <functional>
#include <limits>
#include <string>
#include <utility>
#include <vector>

import sqlpool;

using namespace std::chrono_literals;

namespace {

// A configuration with no problem at all, the base each case breaks in one way.
sqlpool::pool_config valid() {
    return sqlpool::pool_config{.database = "test.db"};
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
}

BOOST_AUTO_TEST_CASE(memory_path_is_passed_as_given) {
    // The pool, not the config, turns ":memory:" into a shared in-memory database.
    BOOST_TEST(sqlpool::pool_config{.database = ":memory:"}.connection_options().path == ":memory:");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(parsing)

BOOST_AUTO_TEST_CASE(every_key_parses) {
    const auto c = sqlpool::pool_config::parse(
        "database=\"my app.db\" mode=read_write busy_timeout=250ms nofollow=true journal=truncate "
        "synchronous=full "
        "foreign_keys=off statement_cache_size=16 min_connections=2 max_connections=6 acquire_timeout=3s "
        "connection_max_age=30m max_age_jitter=0.25 idle_timeout=2h health_check_interval=45s max_uses=1000 "
        "transaction_timeout=20s close_timeout=1s background_maintenance=false maintenance_interval=500ms "
        "pragma.cache_size=-2000");
    BOOST_TEST(c.database == "my app.db");
    BOOST_TEST((c.mode == sqlpool::open_mode::read_write));
    BOOST_TEST((c.busy_timeout == 250ms));
    BOOST_TEST(c.nofollow);
    BOOST_TEST((c.journal == sqlpool::journal_mode::truncate));
    BOOST_TEST((c.synchronous == sqlpool::synchronous_mode::full));
    BOOST_TEST(!c.foreign_keys);
    BOOST_TEST(c.statement_cache_size == 16u);
    BOOST_TEST(c.min_connections == 2u);
    BOOST_TEST(c.max_connections == 6u);
    BOOST_TEST((c.acquire_timeout == 3s));
    BOOST_TEST((c.connection_max_age == 30min));
    BOOST_TEST(c.max_age_jitter == 0.25);
    BOOST_TEST((c.idle_timeout == 2h));
    BOOST_TEST((c.health_check_interval == 45s));
    BOOST_TEST(c.max_uses == 1000u);
    BOOST_TEST((c.transaction_timeout == 20s));
    BOOST_TEST((c.close_timeout == 1s));
    BOOST_TEST(!c.background_maintenance);
    BOOST_TEST((c.maintenance_interval == 500ms));
    BOOST_REQUIRE(c.pragmas.size() == 1u);
    BOOST_TEST(c.pragmas[0].first == "cache_size");
    // to_string() round-trips.
    const auto again = sqlpool::pool_config::parse(c.to_string());
    BOOST_TEST(again.to_string() == c.to_string());
}

BOOST_AUTO_TEST_CASE(every_problem_is_reported_with_the_valid_keys) {
    try {
        (void)sqlpool::pool_config::parse("database=a.db max_conections=8 min_connections=two idle_timeout=5 "
                                          "acquire_timeout=3days journal=fast loose");
        BOOST_FAIL("no config_error");
    } catch (const sqlpool::config_error& e) {
        const std::string what = e.what();
        BOOST_TEST(what.find("unknown key 'max_conections'") != std::string::npos);
        BOOST_TEST(what.find("min_connections: 'two' is not a whole number") != std::string::npos);
        BOOST_TEST(what.find("idle_timeout: '5' needs a unit") != std::string::npos);
        BOOST_TEST(what.find("acquire_timeout: unknown unit 'days'") != std::string::npos);
        BOOST_TEST(what.find("journal: unknown value 'fast'") != std::string::npos);
        BOOST_TEST(what.find("'loose' has no value") != std::string::npos);
        BOOST_TEST(what.find("valid keys: database, mode,") != std::string::npos);
    }
}

BOOST_AUTO_TEST_CASE(parsed_config_is_validated) {
    BOOST_CHECK_THROW((void)sqlpool::pool_config::parse("database=a.db max_connections=0"),
                      sqlpool::config_error);
    BOOST_CHECK_THROW((void)sqlpool::pool_config::parse("database=\"unclosed"), sqlpool::config_error);
    BOOST_CHECK_THROW((void)sqlpool::pool_config::parse(""), sqlpool::config_error); // no database
}

BOOST_AUTO_TEST_CASE(environment_variables_override_the_base) {
    ::setenv("SQLPOOLTEST_DATABASE", "env.db", 1);
    ::setenv("SQLPOOLTEST_MAX_CONNECTIONS", "12", 1);
    ::setenv("SQLPOOLTEST_IDLE_TIMEOUT", "90s", 1);
    ::setenv("SQLPOOLTEST_PRAGMA_CACHE_SIZE", "-500", 1);
    const auto c = sqlpool::pool_config::from_env("SQLPOOLTEST_");
    BOOST_TEST(c.database == "env.db");
    BOOST_TEST(c.max_connections == 12u);
    BOOST_TEST((c.idle_timeout == 90s));
    BOOST_REQUIRE(c.pragmas.size() == 1u);
    BOOST_TEST(c.pragmas[0].first == "cache_size");
    ::setenv("SQLPOOLTEST_MAX_CONNECTION", "3", 1);
    const auto what = [&] {
        try {
            (void)sqlpool::pool_config::from_env("SQLPOOLTEST_");
        } catch (const sqlpool::config_error& e) {
            return std::string(e.what());
        }
        return std::string();
    }();
    BOOST_TEST(what.find("SQLPOOLTEST_MAX_CONNECTION: unknown key 'max_connection'") != std::string::npos);
    for (const char* name :
         {"SQLPOOLTEST_DATABASE", "SQLPOOLTEST_MAX_CONNECTIONS", "SQLPOOLTEST_IDLE_TIMEOUT",
          "SQLPOOLTEST_PRAGMA_CACHE_SIZE", "SQLPOOLTEST_MAX_CONNECTION"})
        ::unsetenv(name);
}

BOOST_AUTO_TEST_SUITE_END()
