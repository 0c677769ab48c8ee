#define BOOST_TEST_MODULE config
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <string>
#include <vector>

import sqlpool;

using namespace std::chrono_literals;

namespace {

sqlpool::pool_config valid() {
    return sqlpool::pool_config{.database = "app.db"};
}

bool mentions(const std::vector<std::string>& problems, const std::string& part) {
    for (const auto& p : problems)
        if (p.find(part) != std::string::npos) return true;
    return false;
}

} // namespace

BOOST_AUTO_TEST_CASE(defaults_are_valid_and_guessable) {
    const auto c = valid();
    BOOST_TEST(c.validate().empty());
    BOOST_TEST(c.min_connections == 1u);
    BOOST_TEST(c.max_connections >= 4u);
    BOOST_TEST((c.acquire_timeout == 5s));
    BOOST_TEST((c.connection_max_age == 30min));
    BOOST_TEST(c.max_age_jitter == 0.10);
    BOOST_TEST((c.idle_timeout == 10min));
    BOOST_TEST((c.health_check_interval == 30s));
    BOOST_TEST(c.max_uses == 0u);
    c.check(); // does not throw
}

BOOST_AUTO_TEST_CASE(each_violation_is_reported) {
    const auto problems_of = [](auto change) {
        auto c = valid();
        change(c);
        return c.validate();
    };
    BOOST_TEST(mentions(problems_of([](auto& c) { c.database.clear(); }), "database is empty"));
    BOOST_TEST(
        mentions(problems_of([](auto& c) { c.max_connections = 0; }), "max_connections is 0, must be >= 1"));
    BOOST_TEST(mentions(problems_of([](auto& c) {
                            c.min_connections = 5;
                            c.max_connections = 4;
                        }),
                        "min_connections (5) exceeds max_connections (4)"));
    BOOST_TEST(
        mentions(problems_of([](auto& c) { c.acquire_timeout = 0ms; }), "acquire_timeout must be positive"));
    BOOST_TEST(mentions(problems_of([](auto& c) { c.connection_max_age = -1s; }),
                        "connection_max_age must be positive"));
    BOOST_TEST(mentions(problems_of([](auto& c) { c.idle_timeout = 0ms; }), "idle_timeout"));
    BOOST_TEST(
        mentions(problems_of([](auto& c) { c.health_check_interval = 0ms; }), "health_check_interval"));
    BOOST_TEST(mentions(problems_of([](auto& c) { c.transaction_timeout = 0ms; }), "transaction_timeout"));
    BOOST_TEST(mentions(problems_of([](auto& c) { c.maintenance_interval = 0ms; }), "maintenance_interval"));
    BOOST_TEST(
        mentions(problems_of([](auto& c) { c.busy_timeout = -1ms; }), "busy_timeout must not be negative"));
    BOOST_TEST(mentions(problems_of([](auto& c) { c.close_timeout = -1ms; }), "close_timeout"));
    BOOST_TEST(
        mentions(problems_of([](auto& c) { c.busy_timeout = 5s; }), "must be longer than busy_timeout"));
    BOOST_TEST(mentions(problems_of([](auto& c) { c.max_age_jitter = 1.5; }), "max_age_jitter"));
    BOOST_TEST(
        mentions(problems_of([](auto& c) { c.statement_cache_size = 1'000'000; }), "statement_cache_size"));
}

BOOST_AUTO_TEST_CASE(every_violation_at_once_in_one_message) {
    auto c = valid();
    c.database.clear();
    c.max_connections = 0;
    c.acquire_timeout = 0ms;
    c.idle_timeout = -5s;
    try {
        c.check();
        BOOST_FAIL("no config_error");
    } catch (const sqlpool::config_error& e) {
        BOOST_TEST(e.problems().size() == 4u);
        const std::string what = e.what();
        BOOST_TEST(what.find("max_connections is 0, must be >= 1; ") != std::string::npos);
        BOOST_TEST(what.find("acquire_timeout must be positive") != std::string::npos);
        BOOST_TEST(what.find("idle_timeout must be positive, is -5000ms") != std::string::npos);
    }
}

BOOST_AUTO_TEST_CASE(connection_options_carry_the_open_fields) {
    auto c = valid();
    c.busy_timeout = 1500ms;
    c.nofollow = true;
    c.statement_cache_size = 7;
    c.pragmas = {{"cache_size", "-2000"}};
    const auto o = c.connection_options();
    BOOST_TEST(o.path == "app.db");
    BOOST_TEST((o.busy_timeout == 1500ms));
    BOOST_TEST(o.nofollow);
    BOOST_TEST(o.statement_cache_size == 7u);
    BOOST_TEST(o.pragmas.size() == 1u);
}
