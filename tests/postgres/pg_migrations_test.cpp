// migrations on PostgreSQL: applied in order once, the version in sqlpool_schema, exactly once
// when several pools (as several processes would) migrate one database at the same moment, a
// failing migration rolled back whole, and a database newer than the program refused.
#define BOOST_TEST_MODULE pg_migrations
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "pg_support.hpp"

import sqlpool.postgres;

namespace pg = sqlpool::postgres;

namespace {

struct fresh_database {
    fresh_database() {
        pg::connection conn(pg_test::primary());
        conn.exec("DROP TABLE IF EXISTS sqlpool_schema, mig_items, mig_log");
    }
};

sqlpool::pool_config config() {
    sqlpool::pool_config c;
    c.database = pg_test::primary();
    c.max_connections = 2;
    return c;
}

const std::vector<sqlpool::migration> migrations{
    {1, "items", "CREATE TABLE mig_items (id int PRIMARY KEY); CREATE TABLE mig_log (what text)"},
    {2, "log once", "INSERT INTO mig_log VALUES ('two')"},
    {3, "a column", "ALTER TABLE mig_items ADD COLUMN name text; INSERT INTO mig_log VALUES ('three')"},
};

std::int64_t log_rows(pg::connection& conn) {
    return conn.query_value<std::int64_t>("SELECT count(*) FROM mig_log");
}

} // namespace

BOOST_FIXTURE_TEST_CASE(applied_in_order_once_and_recorded, fresh_database) {
    pg::pool pool(config());
    BOOST_TEST(pg::migrate(pool, migrations) == 3);
    BOOST_TEST(pg::migrate(pool, migrations) == 0);
    pg::connection conn(pg_test::primary());
    BOOST_TEST(pg::schema_version(conn) == 3);
    BOOST_TEST(log_rows(conn) == 2);
}

BOOST_FIXTURE_TEST_CASE(eight_pools_migrating_at_once_apply_each_migration_once, fresh_database) {
    std::atomic<int> applied{0};
    std::atomic<int> failed{0};
    std::vector<std::jthread> starters;
    for (int i = 0; i < 8; ++i)
        starters.emplace_back([&] {
            try {
                pg::pool pool(config());
                applied.fetch_add(pg::migrate(pool, migrations));
            } catch (const sqlpool::error&) {
                failed.fetch_add(1);
            }
        });
    starters.clear();
    BOOST_TEST(failed.load() == 0);
    BOOST_TEST(applied.load() == 3);
    pg::connection conn(pg_test::primary());
    BOOST_TEST(log_rows(conn) == 2);
    BOOST_TEST(pg::schema_version(conn) == 3);
}

BOOST_FIXTURE_TEST_CASE(a_failing_migration_is_rolled_back_whole, fresh_database) {
    pg::pool pool(config());
    std::vector<sqlpool::migration> broken(migrations.begin(), migrations.begin() + 2);
    broken.push_back({3, "half", "INSERT INTO mig_log VALUES ('half'); SELECT * FROM no_such_table"});
    try {
        (void)pg::migrate(pool, broken);
        BOOST_FAIL("no error");
    } catch (const sqlpool::schema_error& e) {
        BOOST_TEST(std::string(e.what()).find("migration 3 (half)") != std::string::npos);
        BOOST_TEST(std::string(e.what()).find("42P01") != std::string::npos);
    }
    pg::connection conn(pg_test::primary());
    BOOST_TEST(pg::schema_version(conn) == 2);
    BOOST_TEST(log_rows(conn) == 1);                // 'half' rolled back with it
    BOOST_TEST(pg::migrate(pool, migrations) == 1); // the fixed list goes on from 2
}

BOOST_FIXTURE_TEST_CASE(a_database_newer_than_the_program_is_refused, fresh_database) {
    pg::pool pool(config());
    BOOST_TEST(pg::migrate(pool, migrations) == 3);
    const std::vector<sqlpool::migration> older(migrations.begin(), migrations.begin() + 2);
    BOOST_CHECK_THROW((void)pg::migrate(pool, older), sqlpool::schema_error);
}
