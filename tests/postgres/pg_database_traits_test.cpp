// sqlpool's database service and pool manager on PostgreSQL (database_traits for
// postgres::basic_source), against the pg_cluster fixture's primary, each case in a database of
// its own: migrations applied once even when eight services start together, the declared schema
// checked, a newer database refused, a call in flight when the service stops, and the manager's
// one pool per database whatever the spelling of its conninfo.
#define BOOST_TEST_MODULE pg_database_traits
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "pg_support.hpp"

import sqlpool.postgres;

namespace pg = sqlpool::postgres;
using pg_database = sqlpool::basic_database<pg::pool>;
using pg_manager = sqlpool::basic_pool_manager<pg::pool>;

namespace {

// A new, empty database on the primary for one case (dropped first if a previous run left it).
struct fresh_database {
    std::string name = "sqlpool_service_" + std::to_string(counter()++);
    std::string conninfo;

    fresh_database() {
        pg::connection admin(pg_test::primary());
        admin.exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)");
        admin.exec("CREATE DATABASE " + name);
        conninfo = pg::conninfo_with(pg_test::primary(), {{"dbname", name}});
    }
    static std::atomic<int>& counter() {
        static std::atomic<int> n{0};
        return n;
    }
    [[nodiscard]] sqlpool::database_options options(std::vector<sqlpool::migration> migrations) const {
        sqlpool::database_options o;
        o.pool.database = conninfo;
        o.pool.max_connections = 3;
        o.schema.migrations = std::move(migrations);
        return o;
    }
};

const std::vector<sqlpool::migration> migrations{
    {1, "items",
     "CREATE TABLE svc_items (id bigint PRIMARY KEY, name text); CREATE TABLE svc_log (what text)"},
    {2, "log once", "INSERT INTO svc_log VALUES ('two')"},
    {3, "a column", "ALTER TABLE svc_items ADD COLUMN \"Note\" text; INSERT INTO svc_log VALUES ('three')"},
};

std::int64_t count(const std::string& conninfo, const std::string& sql) {
    pg::connection conn(conninfo);
    return conn.query_value<std::int64_t>(sql);
}

sqlpool::pool_config config(const std::string& conninfo) {
    sqlpool::pool_config c;
    c.database = conninfo;
    c.max_connections = 2;
    c.min_connections = 0;
    return c;
}

// The keyword/value pairs of the primary's conninfo as a URI, with a parameter order of its own.
std::string as_uri(const std::string& conninfo) {
    std::string host;
    std::string port;
    std::string dbname;
    std::string user;
    for (const auto& [key, value] : pg::parse_conninfo(conninfo)) {
        if (key == "host") host = value;
        if (key == "port") port = value;
        if (key == "dbname") dbname = value;
        if (key == "user") user = value;
    }
    return "postgresql://" + user + "@" + host + ":" + port + "/" + dbname +
           "?gssencmode=disable&sslmode=disable&connect_timeout=5";
}

} // namespace

BOOST_FIXTURE_TEST_CASE(the_service_migrates_checks_and_serves, fresh_database) {
    auto o = options(migrations);
    o.schema.tables = {{"svc_items", {"id", "name", "Note"}}, {"svc_log", {}}};
    pg_database db(o);
    db.start();
    BOOST_TEST(db.schema_version() == 3);
    BOOST_TEST(db.exec("INSERT INTO svc_items (id, name) VALUES ($1, $2)", std::int64_t{1}, "one") == 1);
    db.write([](pg::connection& c) { c.exec("INSERT INTO svc_items (id, name) VALUES (2, 'two')"); });
    const auto rows = db.query<std::int64_t, std::string>("SELECT id, name FROM svc_items ORDER BY id");
    BOOST_TEST(rows.size() == 2U);
    BOOST_TEST((rows.at(1) == std::tuple<std::int64_t, std::string>{2, "two"}));
    BOOST_TEST(db.read([](pg::connection& c) {
        return c.query_value<std::int64_t>("SELECT count(*) FROM svc_log");
    }) == 2);
    BOOST_TEST((db.health().status == sqlpool::availability::up), db.health().to_string());
    BOOST_TEST(db.ready());
    BOOST_TEST(db.live());
    BOOST_TEST(db.stop().complete);
    BOOST_TEST((db.state() == sqlpool::service_state::stopped));
    BOOST_CHECK_THROW((void)db.exec("DELETE FROM svc_items"), sqlpool::state_error);
    BOOST_TEST(count(conninfo, "SELECT count(*) FROM svc_items") == 2);
    db.start(); // again: nothing left to apply
    BOOST_TEST(db.schema_version() == 3);
    BOOST_TEST(count(conninfo, "SELECT count(*) FROM svc_log") == 2);
}

BOOST_FIXTURE_TEST_CASE(eight_services_starting_together_apply_each_migration_once, fresh_database) {
    std::atomic<int> failures{0};
    {
        std::vector<std::jthread> starters;
        for (int i = 0; i < 8; ++i)
            starters.emplace_back([&] {
                try {
                    pg_database db(options(migrations));
                    db.start();
                    if (db.schema_version() != 3) ++failures;
                } catch (const std::exception& e) {
                    BOOST_TEST_MESSAGE("start failed: " << e.what());
                    ++failures;
                }
            });
    }
    BOOST_TEST(failures.load() == 0);
    BOOST_TEST(count(conninfo, "SELECT count(*) FROM svc_log") == 2);
    BOOST_TEST(count(conninfo, "SELECT version FROM sqlpool_schema") == 3);
}

BOOST_FIXTURE_TEST_CASE(a_schema_without_what_is_declared_refuses_to_start, fresh_database) {
    auto o = options(migrations);
    o.pool.database = pg::conninfo_with(conninfo, {{"password", "sekrit"}}); // trust: not asked for
    // "NAME" reads as the unquoted identifier name; "note" is not the quoted "Note".
    o.schema.tables = {{"svc_items", {"id", "NAME", "note", "absent_column"}}, {"absent_table", {}}};
    pg_database db(o);
    try {
        db.start();
        BOOST_FAIL("start() accepted a schema without a declared table");
    } catch (const sqlpool::schema_error& e) {
        const std::string what = e.what();
        BOOST_TEST(what.find("column 'svc_items.absent_column'") != std::string::npos, what);
        BOOST_TEST(what.find("table 'absent_table'") != std::string::npos, what);
        BOOST_TEST(what.find("column 'svc_items.note'") != std::string::npos, what);
        BOOST_TEST(what.find("NAME") == std::string::npos, what);
        BOOST_TEST(what.find("sekrit") == std::string::npos, what);
    }
    BOOST_TEST((db.state() == sqlpool::service_state::stopped));
    BOOST_TEST(!db.ready());
}

BOOST_FIXTURE_TEST_CASE(a_failing_migration_or_a_newer_database_is_refused, fresh_database) {
    {
        pg_database db(options(migrations));
        db.start();
    }
    pg_database older(options({migrations.front()}));
    BOOST_CHECK_THROW(older.start(), sqlpool::schema_error);
    auto broken = migrations;
    broken.push_back({4, "broken", "INSERT INTO svc_log VALUES ('four'); SELECT * FROM no_such_table"});
    pg_database db(options(broken));
    BOOST_CHECK_THROW(db.start(), sqlpool::schema_error);
    BOOST_TEST(count(conninfo, "SELECT count(*) FROM svc_log WHERE what = 'four'") == 0);
    BOOST_TEST(count(conninfo, "SELECT version FROM sqlpool_schema") == 3);
}

// A write in flight when stop() comes: stop waits for it (within close_timeout); what write()
// acknowledged is in the table, and later calls meet state_error.
BOOST_FIXTURE_TEST_CASE(stop_waits_for_a_call_in_flight, fresh_database) {
    pg_database db(options(migrations));
    db.start();
    std::atomic<bool> inside{false};
    std::atomic<bool> acknowledged{false};
    std::jthread writer([&] {
        db.write([&](pg::connection& c) {
            inside = true;
            c.exec("SELECT pg_sleep(0.3)");
            c.exec("INSERT INTO svc_items (id) VALUES (7)");
        });
        acknowledged = true;
    });
    while (!inside) std::this_thread::yield();
    const auto report = db.stop();
    writer.join();
    BOOST_TEST(report.complete);
    BOOST_TEST(acknowledged.load());
    BOOST_TEST(count(conninfo, "SELECT count(*) FROM svc_items WHERE id = 7") == 1);
    BOOST_CHECK_THROW((void)db.exec("INSERT INTO svc_items (id) VALUES (8)"), sqlpool::state_error);
}

BOOST_FIXTURE_TEST_CASE(the_manager_keeps_one_pool_per_database_whatever_the_spelling, fresh_database) {
    pg_manager manager;
    const auto a = manager.get_or_create(config(conninfo));
    const auto reordered = pg::write_conninfo({{"dbname", name}}) + " " + pg::conninfo_with(conninfo, {});
    BOOST_TEST(manager.get_or_create(config(as_uri(conninfo))) == a);
    BOOST_TEST(manager.get_or_create(config(reordered)) == a);
    BOOST_TEST(manager.get_or_create(config(pg::conninfo_with(conninfo, {{"password", "sekrit"}}))) == a);
    BOOST_TEST(manager.find(as_uri(conninfo)) == a);
    BOOST_TEST(manager.size() == 1U);

    const auto other = manager.get_or_create(config(pg_test::primary()));
    BOOST_TEST(other != a);
    BOOST_TEST(manager.size() == 2U);

    auto differing = config(pg::conninfo_with(conninfo, {{"password", "sekrit"}}));
    differing.max_connections = 5;
    try {
        (void)manager.get_or_create(differing);
        BOOST_FAIL("a differing config was accepted");
    } catch (const sqlpool::config_error& e) {
        const std::string what = e.what();
        BOOST_TEST(what.find("max_connections") != std::string::npos, what);
        BOOST_TEST(what.find("sekrit") == std::string::npos, what);
    }
    BOOST_TEST(pg::write(*a, [](pg::connection& c) { return c.query_value<std::int64_t>("SELECT 1"); }) == 1);
    BOOST_TEST(manager.close(reordered));
    BOOST_TEST(manager.size() == 1U);
    BOOST_CHECK_THROW((void)a->acquire(), sqlpool::pool_closed_error);
}

BOOST_FIXTURE_TEST_CASE(eight_threads_asking_for_one_database_share_one_pool, fresh_database) {
    pg_manager manager;
    std::vector<std::shared_ptr<pg::pool>> got(8);
    {
        std::vector<std::jthread> threads;
        for (std::size_t i = 0; i < got.size(); ++i)
            threads.emplace_back(
                [&, i] { got[i] = manager.get_or_create(config(i % 2 == 0 ? conninfo : as_uri(conninfo))); });
    }
    const std::set<std::shared_ptr<pg::pool>> distinct(got.begin(), got.end());
    BOOST_TEST(distinct.size() == 1U);
    BOOST_TEST(manager.size() == 1U);
}
