// config_text: pool_config as text. parse() and from_env() read every key, report every problem with
// the valid keys, and validate what they read; to_string() writes every enum value in a form parse()
// reads back. Older configurations: durations in seconds without a unit, old key names with a note,
// and a lenient mode that ignores unknown keys with a note.
#define BOOST_TEST_MODULE config_text
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdlib>
#include <set>
#include <string>
#include <vector>

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
        (void)sqlpool::pool_config::parse(
            "database=a.db max_conections=8 min_connections=two idle_timeout=5.0001 "
            "acquire_timeout=3days journal=fast loose");
        BOOST_FAIL("no config_error");
    } catch (const sqlpool::config_error& e) {
        const std::string what = e.what();
        BOOST_TEST(what.find("unknown key 'max_conections'") != std::string::npos);
        BOOST_TEST(what.find("min_connections: 'two' is not a whole number") != std::string::npos);
        BOOST_TEST(what.find("idle_timeout: '5.0001' is finer than a millisecond") != std::string::npos);
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

// What each of a table of bad texts is answered with: a config_error naming the problem.
struct bad_text {
    std::string text;
    std::string named; // in what() and in one of problems()
};

const std::vector<bad_text> bad_texts{
    {"database=a.db max_conections=8", "unknown key 'max_conections'"},
    {"database=a.db idle_timout=5s", "unknown key 'idle_timout'"},
    {"database=a.db idle_timeout=5x", "idle_timeout: unknown unit 'x'"},
    {"database=a.db idle_timeout=5days", "idle_timeout: unknown unit 'days'"},
    {"database=a.db idle_timeout=abc", "idle_timeout: 'abc' is not a duration"},
    {"database=a.db idle_timeout=", "idle_timeout: '' is not a duration"},
    {"database=a.db idle_timeout=1.2.3", "idle_timeout: '1.2.3' is not a duration"},
    {"database=a.db idle_timeout=.5", "idle_timeout: '.5' is not a duration"},
    {"database=a.db idle_timeout=1.", "idle_timeout: '1.' is not a duration"},
    {"database=a.db idle_timeout=0.0001", "idle_timeout: '0.0001' is finer than a millisecond"},
    {"database=a.db busy_timeout=1.5ms", "busy_timeout: '1.5ms' is finer than a millisecond"},
    {"database=a.db idle_timeout=99999999999999999999",
     "idle_timeout: '99999999999999999999' is out of range"},
    {"database=a.db idle_timeout=9223372036854775.808",
     "idle_timeout: '9223372036854775.808' is out of range"},
    {"database=a.db idle_timeout=-5s", "idle_timeout must be positive, is -5000ms"},
    {"database=a.db idle_timeout=-1.5", "idle_timeout must be positive, is -1500ms"},
    {"database=a.db close_timeout=-0.5", "close_timeout must not be negative, is -500ms"},
    {"database=a.db journal=fast", "journal: unknown value 'fast'"},
    {"database=a.db journal=WAL", "journal: unknown value 'WAL'"},
    {"database=a.db foreign_keys=yes", "foreign_keys: unknown value 'yes'"},
    {"database=a.db loose", "'loose' has no value (write key=value)"},
    {"database=\"a.db", "database: the quoted value has no closing '\"'"},
    {"database=a.db min_connections=9 max_connections=4", "min_connections (9) exceeds max_connections (4)"},
    {"database=a.db max_connections=-1", "max_connections: '-1' is not a whole number >= 0"},
    {"database=a.db max_connections=0", "max_connections is 0, must be >= 1"},
    {"max_connections=4", "database is empty"},
    {"database=a.db acquire_timeout=1s busy_timeout=2",
     "acquire_timeout (1000ms) must be longer than busy_timeout (2000ms)"},
    {"database=a.db pragma.=1", "pragma.: the pragma needs a name"},
    {"database=a.db limit.bogus=1", "limit.bogus: unknown value 'bogus'"},
    {"database=a.db file_mode=999", "file_mode: '999' is not an octal mode"},
    {"database=a.db max_age_jitter=lots", "max_age_jitter: 'lots' is not a number"},
    {"database=a.db max_age_jitter=2", "max_age_jitter is 2.000000, must be within 0..1"},
};

BOOST_AUTO_TEST_CASE(every_bad_text_is_a_config_error_naming_its_problem) {
    for (const auto& row : bad_texts) {
        BOOST_TEST_CONTEXT("text: " << row.text) {
            try {
                (void)sqlpool::pool_config::parse(row.text);
                BOOST_ERROR("accepted");
            } catch (const sqlpool::config_error& e) {
                BOOST_TEST(std::string(e.what()).find(row.named) != std::string::npos, e.what());
                BOOST_TEST(std::ranges::any_of(e.problems(), [&](const std::string& problem) {
                    return problem.find(row.named) != std::string::npos;
                }));
            }
        }
    }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(older_configurations)

BOOST_AUTO_TEST_CASE(a_duration_without_a_unit_is_seconds_and_may_have_a_fraction) {
    const auto c = sqlpool::pool_config::parse("database=a.db idle_timeout=1.5 connection_max_age=600.0 "
                                               "health_check_interval=60 busy_timeout=0.001 close_timeout=0 "
                                               "acquire_timeout=0.25m transaction_timeout=2.5h "
                                               "maintenance_interval=0.5s reader_gap=1.250");
    BOOST_TEST((c.idle_timeout == 1500ms));
    BOOST_TEST((c.connection_max_age == 10min));
    BOOST_TEST((c.health_check_interval == 60s));
    BOOST_TEST((c.busy_timeout == 1ms));
    BOOST_TEST((c.close_timeout == 0ms));
    BOOST_TEST((c.acquire_timeout == 15s));
    BOOST_TEST((c.transaction_timeout == 150min));
    BOOST_TEST((c.maintenance_interval == 500ms));
    BOOST_TEST((c.reader_gap == 1250ms));
    // to_string() still writes milliseconds, which parse() reads back.
    BOOST_TEST(c.to_string().find("idle_timeout=1500ms") != std::string::npos);
    BOOST_TEST(sqlpool::pool_config::parse(c.to_string()).to_string() == c.to_string());
    // The longest duration, in seconds with a fraction: 100 years less a millisecond.
    const auto longest = sqlpool::pool_config::parse("database=a.db connection_max_age=3155695199.999");
    BOOST_TEST((longest.connection_max_age == sqlpool::pool_config::max_duration - 1ms));
}

BOOST_AUTO_TEST_CASE(the_python_services_configuration_parses_as_it_meant) {
    // The original service's keys and defaults: durations in seconds, the file as `path`.
    const auto c = sqlpool::pool_config::parse("path=app.db max_connections=10 min_connections=1 "
                                               "connection_max_age=600.0 health_check_interval=60.0");
    BOOST_TEST(c.database == "app.db");
    BOOST_TEST(c.max_connections == 10u);
    BOOST_TEST(c.min_connections == 1u);
    BOOST_TEST((c.connection_max_age == 10min));
    BOOST_TEST((c.health_check_interval == 1min));
    // The old name reads into the current field: to_string() writes `database`, never `path`.
    BOOST_TEST(c.to_string().starts_with("database=app.db "));
    BOOST_TEST(c.to_string().find("path=") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(the_environment_takes_seconds_and_old_names_too) {
    ::setenv("SQLPOOLOLD_PATH", "env.db", 1);
    ::setenv("SQLPOOLOLD_CONNECTION_MAX_AGE", "600.0", 1);
    const auto c = sqlpool::pool_config::from_env("SQLPOOLOLD_");
    BOOST_TEST(c.database == "env.db");
    BOOST_TEST((c.connection_max_age == 10min));
    ::unsetenv("SQLPOOLOLD_PATH");
    ::unsetenv("SQLPOOLOLD_CONNECTION_MAX_AGE");
}

BOOST_AUTO_TEST_CASE(an_old_key_name_is_read_with_a_deprecation_note) {
    const auto read =
        sqlpool::pool_config::parse_with_notes("path=old.db max_connections=4", sqlpool::config_mode::strict);
    BOOST_TEST(read.config.database == "old.db");
    BOOST_TEST(read.config.max_connections == 4u);
    BOOST_REQUIRE(read.notes.size() == 1u);
    BOOST_TEST(read.notes[0].find("'path' is deprecated") != std::string::npos, read.notes[0]);
    BOOST_TEST(read.notes[0].find("of 'database'") != std::string::npos, read.notes[0]);
    // A current text has no notes.
    BOOST_TEST(
        sqlpool::pool_config::parse_with_notes("database=a.db", sqlpool::config_mode::strict).notes.empty());
    // The old name and the current one are one key: the later wins, as with any key given twice.
    BOOST_TEST(sqlpool::pool_config::parse("path=old.db database=new.db").database == "new.db");
    BOOST_TEST(sqlpool::pool_config::parse("database=new.db path=old.db").database == "old.db");
}

BOOST_AUTO_TEST_CASE(the_lenient_mode_ignores_unknown_keys_with_a_note_and_refuses_bad_values) {
    const std::string text = "database=a.db colour=blue max_conections=3 idle_timeout=90";
    BOOST_CHECK_THROW((void)sqlpool::pool_config::parse_with_notes(text, sqlpool::config_mode::strict),
                      sqlpool::config_error);
    const auto read = sqlpool::pool_config::parse_with_notes(text, sqlpool::config_mode::lenient);
    BOOST_TEST(read.config.database == "a.db");
    BOOST_TEST(read.config.max_connections == sqlpool::pool_config{}.max_connections);
    BOOST_TEST((read.config.idle_timeout == 90s));
    BOOST_TEST(read.notes == (std::vector<std::string>{"unknown key 'colour' ignored",
                                                       "unknown key 'max_conections' ignored"}),
               boost::test_tools::per_element());
    // A known key with a bad value, and a bad limit name, stay errors; the result is validated.
    for (const char* bad : {"database=a.db colour=blue idle_timeout=abc", "database=a.db limit.bogus=1",
                            "colour=blue", "database=a.db min_connections=9 max_connections=4"}) {
        BOOST_TEST_CONTEXT(bad) {
            BOOST_CHECK_THROW(
                (void)sqlpool::pool_config::parse_with_notes(bad, sqlpool::config_mode::lenient),
                sqlpool::config_error);
        }
    }
    try {
        (void)sqlpool::pool_config::parse_with_notes("database=a.db colour=blue idle_timeout=abc",
                                                     sqlpool::config_mode::lenient);
        BOOST_ERROR("accepted");
    } catch (const sqlpool::config_error& e) {
        BOOST_TEST(e.problems() ==
                       (std::vector<std::string>{"idle_timeout: 'abc' is not a duration (seconds, "
                                                 "or a number and ms, s, m or h)"}),
                   boost::test_tools::per_element());
    }
}

BOOST_AUTO_TEST_CASE(the_environment_in_the_lenient_mode_reads_only_the_keys_it_knows) {
    ::setenv("SQLPOOLMIX_COLOUR", "blue", 1); // another program's variable with the same prefix
    ::setenv("SQLPOOLMIX_PATH", "old.db", 1);
    const auto what = [] {
        try {
            (void)sqlpool::pool_config::from_env("SQLPOOLMIX_");
        } catch (const sqlpool::config_error& e) {
            return std::string(e.what());
        }
        return std::string();
    }();
    BOOST_TEST(what.find("SQLPOOLMIX_COLOUR: unknown key 'colour'") != std::string::npos, what);
    BOOST_TEST(what.find("valid keys: database, mode,") != std::string::npos, what); // as parse() lists them
    BOOST_CHECK_THROW(
        (void)sqlpool::pool_config::from_env_with_notes("SQLPOOLMIX_", sqlpool::config_mode::strict),
        sqlpool::config_error);
    const auto read = sqlpool::pool_config::from_env_with_notes("SQLPOOLMIX_", sqlpool::config_mode::lenient,
                                                                sqlpool::pool_config{.max_connections = 3});
    BOOST_TEST(read.config.max_connections == 3u); // over the base
    BOOST_TEST(read.config.database == "old.db");
    BOOST_TEST(std::ranges::count(read.notes, "SQLPOOLMIX_COLOUR: unknown key 'colour' ignored") == 1);
    BOOST_TEST(std::ranges::count_if(read.notes, [](const std::string& note) {
                   return note.starts_with("SQLPOOLMIX_PATH: 'path' is deprecated") &&
                          note.ends_with("; set SQLPOOLMIX_DATABASE instead"); // the variable, not the key
               }) == 1);
    BOOST_TEST(read.notes.size() == 2u);
    for (const char* name : {"SQLPOOLMIX_COLOUR", "SQLPOOLMIX_PATH"}) ::unsetenv(name);
}

BOOST_AUTO_TEST_CASE(each_config_mode_has_a_name) {
    BOOST_TEST(sqlpool_test::every_value_named<sqlpool::config_mode>(
        2, [](sqlpool::config_mode mode) { return std::string(sqlpool::to_string(mode)); }));
    BOOST_TEST(std::string(sqlpool::to_string(sqlpool::config_mode::lenient)) == "lenient");
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
