// config_text: pool_config as text. parse() and from_env() read every key, report every problem with
// the valid keys, and validate what they read; to_string() writes every enum value in a form parse()
// reads back.
#define BOOST_TEST_MODULE config_text
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <cstddef>
#include <cstdlib>
#include <set>
#include <string>

#include "support/enum_names.hpp"

import sqlpool;

using namespace std::chrono_literals;

BOOST_AUTO_TEST_SUITE(parsing)

BOOST_AUTO_TEST_CASE(every_key_parses) {
    const auto c =
        sqlpool::pool_config::parse("database=\"my app.db\" mode=read_write busy_timeout=250ms nofollow=true "
                                    "journal=truncate "
                                    "synchronous=full "
                                    "foreign_keys=off statement_cache_size=16 min_connections=2 "
                                    "max_connections=6 acquire_timeout=3s "
                                    "connection_max_age=30m max_age_jitter=0.25 idle_timeout=2h "
                                    "health_check_interval=45s max_uses=1000 "
                                    "transaction_timeout=20s close_timeout=1s background_maintenance=false "
                                    "maintenance_interval=500ms "
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
    BOOST_CHECK_THROW((void)sqlpool::pool_config::parse(""),
                      sqlpool::config_error); // no database
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

BOOST_AUTO_TEST_SUITE(enum_names)

// Sets one enum field to each of its values in turn, writes the config as text and parses it back.
template <class E>
void round_trips(int count, E sqlpool::pool_config::* member) {
    for (int i = 0; i < count; ++i) {
        sqlpool::pool_config config{.database = "x.db"};
        config.*member = static_cast<E>(i);
        BOOST_TEST_CONTEXT(config.to_string()) {
            BOOST_TEST((sqlpool::pool_config::parse(config.to_string()).*member == static_cast<E>(i)));
        }
    }
}

BOOST_AUTO_TEST_CASE(every_mode_journal_and_synchronous_value_round_trips_through_text) {
    round_trips(3, &sqlpool::pool_config::mode);
    round_trips(7, &sqlpool::pool_config::journal);
    round_trips(5, &sqlpool::pool_config::synchronous);
}

BOOST_AUTO_TEST_CASE(every_limit_has_a_name_that_parses) {
    const auto key = [](sqlpool::limit which) {
        const std::string text = sqlpool::pool_config{.limits = {{which, 1}}}.to_string();
        const auto at = text.find(" limit.") + 7;
        return text.substr(at, text.find('=', at) - at);
    };
    BOOST_TEST(sqlpool_test::every_value_named<sqlpool::limit>(12, key));
    // An unknown limit is refused with the list of the names parse() knows: the same twelve.
    std::set<std::string> known;
    try {
        (void)sqlpool::pool_config::parse("database=x.db limit.bogus=1");
    } catch (const sqlpool::config_error& e) {
        std::string list = e.problems().at(0);
        list = list.substr(list.find("(use ") + 5);
        for (std::size_t at = 0; at < list.size(); at = list.find_first_of(",)", at) + 2)
            known.insert(list.substr(at, list.find_first_of(",)", at) - at));
    }
    BOOST_TEST(known.size() == 12u);
    for (int i = 0; i < 12; ++i) BOOST_TEST(known.contains(key(static_cast<sqlpool::limit>(i))));
}

BOOST_AUTO_TEST_SUITE_END()
