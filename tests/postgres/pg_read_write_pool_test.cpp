// read_write_pool against the fixture's primary and its streaming standby: writes reach only the
// primary, reads run on the standby, READ ONLY.
#define BOOST_TEST_MODULE pg_read_write_pool
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <cstdint>
#include <string>
#include <thread>

#include "pg_support.hpp"

import sqlpool.postgres;

namespace pg = sqlpool::postgres;
using namespace std::chrono_literals;

namespace {
sqlpool::pool_config config(const std::string& conninfo) {
    sqlpool::pool_config c;
    c.database = conninfo;
    c.min_connections = 0;
    c.max_connections = 4;
    c.transaction_timeout = 20s;
    return c;
}

bool in_recovery(pg::connection& conn) {
    return conn.query_value<bool>("SELECT pg_is_in_recovery()");
}
} // namespace

BOOST_AUTO_TEST_CASE(writes_go_to_the_primary_and_reads_to_the_standby) {
    pg::read_write_pool<> pools(config(pg_test::primary()), config(pg_test::standby()));
    pools.write([](pg::connection& conn) {
        BOOST_TEST(!in_recovery(conn));
        conn.exec("DROP TABLE IF EXISTS split_rows; CREATE TABLE split_rows (id int PRIMARY KEY)");
        conn.exec("INSERT INTO split_rows VALUES ($1)", 1);
    });
    // Streaming replication is asynchronous: the row shows on the standby shortly.
    bool seen = false;
    for (int i = 0; i < 200 && !seen; ++i) {
        seen = pools.read([](pg::connection& conn) {
            BOOST_TEST(in_recovery(conn));
            return conn.query_value<bool>("SELECT to_regclass('split_rows') IS NOT NULL");
        });
        if (!seen) std::this_thread::sleep_for(50ms);
    }
    BOOST_TEST(seen);
    std::int64_t rows = 0;
    for (int i = 0; i < 200 && rows == 0; ++i) {
        rows = pools.read([](pg::connection& conn) {
            return conn.query_value<std::int64_t>("SELECT count(*) FROM split_rows");
        });
        if (rows == 0) std::this_thread::sleep_for(50ms);
    }
    BOOST_TEST(rows == 1);
}

BOOST_AUTO_TEST_CASE(a_write_through_read_never_reaches_a_server) {
    pg::read_write_pool<> pools(config(pg_test::primary()), config(pg_test::standby()),
                                pg::reader_fallback::none);
    try {
        pools.read([](pg::connection& conn) { conn.exec("CREATE TABLE must_not_exist (a int)"); });
        BOOST_FAIL("a write ran in read()");
    } catch (const sqlpool::server_error& e) {
        BOOST_TEST(e.sqlstate() == "25006"); // read-only transaction
    }
}

BOOST_AUTO_TEST_CASE(the_writer_refuses_a_standby_even_when_named_first) {
    // Both servers listed for the writer, the standby first: libpq skips it (target_session_attrs).
    const auto standby = pg::parse_conninfo(pg_test::standby());
    const auto primary = pg::parse_conninfo(pg_test::primary());
    auto port_of = [](const auto& pairs) {
        for (const auto& [k, v] : pairs)
            if (k == "port") return v;
        return std::string();
    };
    const std::string both =
        pg::conninfo_with(pg_test::primary(), {{"host", "127.0.0.1,127.0.0.1"},
                                               {"port", port_of(standby) + "," + port_of(primary)}});
    pg::read_write_pool<> pools(config(both), config(pg_test::standby()));
    for (int i = 0; i < 5; ++i) pools.write([](pg::connection& conn) { BOOST_TEST(!in_recovery(conn)); });
}
