// service_gate: the database service's lifecycle state and the gate every call passes through. The
// gate is internal; these tests go through basic_database (state(), its calls, start() and stop()).
#define BOOST_TEST_MODULE service_gate
#include <boost/test/unit_test.hpp>

#include <cstdint>
#include <string>
#include <utility>

#include "support/temp_dir.hpp"
#include "support/thrown.hpp"

import sqlpool;

namespace {

struct fixture {
    sqlpool_test::temp_dir dir{"gate"};
    std::string path = dir.file("g.db");

    [[nodiscard]] sqlpool::database_options options(bool create_if_missing = true) const {
        return {.pool = {.database = path, .max_connections = 2, .background_maintenance = false},
                .create_if_missing = create_if_missing};
    }
};

// The message of the state_error `f` throws, or "" when it throws none.
template <class F>
std::string refusal(F&& f) {
    const auto e = sqlpool_test::thrown<sqlpool::state_error>(std::forward<F>(f));
    return e ? std::string(e->what()) : std::string();
}

bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

} // namespace

BOOST_FIXTURE_TEST_SUITE(gate, fixture)

BOOST_AUTO_TEST_CASE(a_call_before_start_is_refused_naming_the_call_and_how_to_start) {
    sqlpool::database db{options()};
    const auto write = refusal([&] { (void)db.exec("SELECT 1"); });
    BOOST_TEST(write == "cannot write: the database service is created; start() it first");
    BOOST_TEST(contains(refusal([&] { (void)db.query<std::int64_t>("SELECT 1"); }), "cannot read:"));
    BOOST_TEST(refusal([&] { (void)db.stats(); }).empty()); // stats() answers in every state
    BOOST_TEST(contains(refusal([&] { (void)db.underlying_pool(); }), "cannot underlying_pool:"));
}

BOOST_AUTO_TEST_CASE(a_call_after_stop_is_refused_without_the_start_hint) {
    sqlpool::database db{options()};
    db.start();
    BOOST_TEST(refusal([&] { (void)db.exec("SELECT 1"); }).empty());
    db.stop();
    const auto after = refusal([&] { (void)db.exec("SELECT 1"); });
    BOOST_TEST(after == "cannot write: the database service is stopped");
}

BOOST_AUTO_TEST_CASE(a_failed_start_leaves_the_service_stopped) {
    sqlpool::database db{options(/*create_if_missing=*/false)}; // and there is no file
    BOOST_CHECK_THROW(db.start(), sqlpool::error);
    BOOST_TEST((db.state() == sqlpool::service_state::stopped));
    BOOST_TEST(contains(refusal([&] { (void)db.schema_version(); }), "is stopped"));
}

BOOST_AUTO_TEST_CASE(a_pool_taken_while_running_outlives_stop_closed) {
    sqlpool::database db{options()};
    db.start();
    auto pool = db.underlying_pool();
    BOOST_TEST(!pool->closed());
    db.stop();
    BOOST_TEST(pool->closed()); // stop() closed it; this reference keeps it alive
    BOOST_CHECK_THROW((void)pool->acquire(), sqlpool::pool_closed_error);
    db.start(); // a new pool, not the closed one
    BOOST_TEST((db.underlying_pool() != pool));
    BOOST_TEST(!db.underlying_pool()->closed());
}

BOOST_AUTO_TEST_SUITE_END()
