// component: the lifecycle concept, its states and availability names, and health_report.
#define BOOST_TEST_MODULE component
#include <boost/test/unit_test.hpp>

#include <string>
#include <vector>

#include "support/enum_names.hpp"

import sqlpool;

namespace {

// A component written by a user: the concept asks for nothing else.
struct cache {
    void start() { state_ = sqlpool::service_state::running; }
    void stop() { state_ = sqlpool::service_state::stopped; }
    [[nodiscard]] sqlpool::service_state state() const { return state_; }
    [[nodiscard]] sqlpool::health_report health() { return {}; }
    [[nodiscard]] bool live() const { return true; }
    [[nodiscard]] bool ready() const { return state_ == sqlpool::service_state::running; }
    sqlpool::service_state state_ = sqlpool::service_state::created;
};

// Lacks health(): not a component.
struct mute {
    void start() {}
    void stop() {}
    [[nodiscard]] sqlpool::service_state state() const { return sqlpool::service_state::created; }
    [[nodiscard]] bool live() const { return true; }
    [[nodiscard]] bool ready() const { return true; }
};

} // namespace

BOOST_AUTO_TEST_CASE(the_database_a_host_and_a_users_type_are_components) {
    BOOST_TEST((sqlpool::component<sqlpool::database>));
    BOOST_TEST((sqlpool::component<sqlpool::basic_database<sqlpool::read_write_pool<>>>));
    BOOST_TEST((sqlpool::component<sqlpool::host>));
    BOOST_TEST((sqlpool::component<cache>));
    BOOST_TEST((!sqlpool::component<mute>));
    BOOST_TEST((!sqlpool::component<int>));
}

BOOST_AUTO_TEST_CASE(every_state_and_availability_has_its_own_name) {
    BOOST_TEST((sqlpool_test::every_value_named<sqlpool::service_state>(
        5, [](auto v) { return std::string(sqlpool::to_string(v)); })));
    BOOST_TEST((sqlpool_test::every_value_named<sqlpool::availability>(
        3, [](auto v) { return std::string(sqlpool::to_string(v)); })));
    BOOST_TEST(std::string(sqlpool::to_string(sqlpool::availability::degraded)) == "degraded");
    BOOST_TEST(std::string(sqlpool::to_string(sqlpool::service_state::stopping)) == "stopping");
}

BOOST_AUTO_TEST_CASE(a_report_takes_the_worst_status_its_reasons_call_for) {
    sqlpool::health_report report;
    BOOST_TEST(report.to_string() == "up");
    report.add(sqlpool::availability::degraded, "slow");
    BOOST_TEST((report.status == sqlpool::availability::degraded));
    report.add(sqlpool::availability::down, "gone");
    report.add(sqlpool::availability::degraded, "still slow"); // never better again
    BOOST_TEST((report.status == sqlpool::availability::down));
    BOOST_TEST((report.reasons == std::vector<std::string>{"slow", "gone", "still slow"}));
    BOOST_TEST(report.to_string() == "down: slow; gone; still slow");
}

BOOST_AUTO_TEST_CASE(a_reason_for_up_keeps_the_report_up) {
    sqlpool::health_report report;
    report.add(sqlpool::availability::up, "note");
    BOOST_TEST((report.status == sqlpool::availability::up));
    BOOST_TEST(report.to_string() == "up: note");
}
