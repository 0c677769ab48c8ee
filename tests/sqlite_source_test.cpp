// sqlite_source: where a SQLite pool's connections come from — ":memory:" and in-memory URIs
// resolved (through a pool), and the source itself: the default isolation and on_connect of every
// connection it opens, what is at the path now, and the in-memory database it keeps alive.
#define BOOST_TEST_MODULE sqlite_source
#include <boost/test/unit_test.hpp>

#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <initializer_list>
#include <stdexcept>
#include <string>

#include "support/temp_dir.hpp"

import sqlpool;

using namespace std::chrono_literals;

namespace {

std::int64_t tables_named(sqlpool::connection& conn, const std::string& name) {
    return conn.query_value<std::int64_t>("SELECT count(*) FROM sqlite_schema WHERE name = ?", name);
}

// Opening a pool on `database` and taking a connection from it.
void open_and_acquire(const std::string& database) {
    sqlpool::pool pool{sqlpool::pool_config{.database = database, .background_maintenance = false}};
    (void)pool.acquire();
}

std::string unique(const std::string& name) {
    return name + "-" + std::to_string(::getpid());
}

} // namespace

BOOST_AUTO_TEST_SUITE(where_connections_connect)

BOOST_AUTO_TEST_CASE(memory_is_one_database_shared_by_the_pools_connections) {
    sqlpool::pool pool{sqlpool::pool_config{
        .database = ":memory:", .min_connections = 2, .max_connections = 2, .background_maintenance = false}};
    auto first = pool.acquire();
    auto second = pool.acquire();
    BOOST_TEST(first.info().id != second.info().id);
    first->exec("CREATE TABLE shared(v)");
    BOOST_TEST(tables_named(*second, "shared") == 1);
}

BOOST_AUTO_TEST_CASE(two_memory_pools_do_not_share_a_database) {
    sqlpool::pool one{sqlpool::pool_config{.database = ":memory:", .background_maintenance = false}};
    sqlpool::pool two{sqlpool::pool_config{.database = ":memory:", .background_maintenance = false}};
    one.acquire()->exec("CREATE TABLE mine(v)");
    auto other = two.acquire();
    BOOST_TEST(tables_named(*other, "mine") == 0);
}

// Each connection retires after one lease, so none is open between leases; the data stays.
BOOST_AUTO_TEST_CASE(the_memory_database_outlives_every_connection_to_it) {
    sqlpool::basic_pool<sqlpool::locking::std_mutex, sqlpool::health::ping, sqlpool::recycling::max_uses<1>>
        pool{sqlpool::pool_config{.database = ":memory:",
                                  .min_connections = 0,
                                  .max_connections = 1,
                                  .background_maintenance = false}};
    pool.acquire()->exec("CREATE TABLE kept(v)");
    BOOST_TEST(pool.stats().total == 0u);
    BOOST_TEST(pool.stats().closed.uses == 1u);
    auto lease = pool.acquire();
    BOOST_TEST(lease.info().id == 2u);
    BOOST_TEST(tables_named(*lease, "kept") == 1);
}

BOOST_AUTO_TEST_CASE(a_uri_that_gives_each_connection_its_own_database_is_refused) {
    for (const char* database : {"file::memory:", "file:private?mode=memory", "file:private?vfs=memdb",
                                 "file::memory:?cache=shared"}) {
        BOOST_TEST_CONTEXT(database) {
            try {
                open_and_acquire(database);
                BOOST_ERROR("accepted");
            } catch (const sqlpool::config_error& e) {
                BOOST_TEST(std::string(e.what()).find("private in-memory database") != std::string::npos,
                           e.what());
            }
        }
    }
}

BOOST_AUTO_TEST_CASE(shared_in_memory_uris_are_used_as_given) {
    for (const auto& database : {"file:/" + unique("sqlpool-fg") + "?vfs=memdb",
                                 "file:" + unique("sqlpool-fg") + "?mode=memory&cache=shared"}) {
        BOOST_TEST_CONTEXT(database) {
            sqlpool::pool pool{sqlpool::pool_config{.database = database,
                                                    .min_connections = 2,
                                                    .max_connections = 2,
                                                    .background_maintenance = false}};
            auto first = pool.acquire();
            auto second = pool.acquire();
            first->exec("CREATE TABLE shared(v)");
            BOOST_TEST(tables_named(*second, "shared") == 1);
        }
    }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(the_source)

BOOST_AUTO_TEST_CASE(connections_open_with_the_level_given_and_after_on_connect) {
    sqlpool_test::temp_dir dir{"source"};
    int ran = 0;
    sqlpool::sqlite_source source{sqlpool::pool_config{
        .database = dir.file("s.db"), .on_connect = [&](sqlpool::connection& conn) {
            ++ran;
            BOOST_TEST(
                (conn.default_isolation() == sqlpool::isolation_level::immediate)); // set before on_connect
            conn.exec("PRAGMA cache_size = 100"); // part of the session every borrower gets
        }}};
    sqlpool::connection conn = source.open(sqlpool::isolation_level::immediate);
    BOOST_TEST(ran == 1);
    BOOST_TEST(!conn.settings_changed());
    BOOST_TEST((conn.reset_for_reuse() == sqlpool::reset_verdict::clean));
    BOOST_TEST(source.describe() == dir.file("s.db"));
}

// A pool's on_connect sets up the session every borrower gets: the reset on return keeps it, and
// restores it (not the config's values) after a borrower changed the same settings.
BOOST_AUTO_TEST_CASE(settings_on_connect_made_outlast_every_return) {
    sqlpool_test::temp_dir dir{"source"};
    sqlpool::pool pool{sqlpool::pool_config{.database = dir.file("k.db"),
                                            .busy_timeout = 1500ms,
                                            .min_connections = 1,
                                            .max_connections = 1,
                                            .background_maintenance = false,
                                            .on_connect = [](sqlpool::connection& conn) {
                                                conn.exec("PRAGMA foreign_keys = OFF");
                                                conn.exec("PRAGMA synchronous = FULL");
                                                conn.exec("PRAGMA busy_timeout = 2500");
                                            }}};
    const auto check = [&](const char* when) {
        auto lease = pool.acquire();
        BOOST_TEST(lease->query_value<std::int64_t>("PRAGMA foreign_keys") == 0, when);
        BOOST_TEST(lease->query_value<std::int64_t>("PRAGMA synchronous") == 2, when);
        BOOST_TEST(lease->query_value<std::int64_t>("PRAGMA busy_timeout") == 2500, when);
    };
    check("first lease");
    check("after a return");
    {
        auto lease = pool.acquire();
        lease->exec("PRAGMA foreign_keys = ON");
        lease->exec("PRAGMA synchronous = OFF");
    }
    check("after a borrower changed them");
    BOOST_TEST(pool.stats().resets == 1u); // only the borrower's change needed restoring
    BOOST_TEST(pool.stats().closed.total() == 0u);
}

BOOST_AUTO_TEST_CASE(what_on_connect_throws_arrives_as_a_hook_error) {
    sqlpool::sqlite_source source{sqlpool::pool_config{
        .database = ":memory:", .on_connect = [](sqlpool::connection&) { throw std::runtime_error("no"); }}};
    BOOST_CHECK_THROW((void)source.open(sqlpool::isolation_level::deferred), sqlpool::hook_error);
}

BOOST_AUTO_TEST_CASE(the_file_at_the_path_is_known_once_a_connection_named_it) {
    sqlpool_test::temp_dir dir{"source"};
    const std::string path = dir.file("i.db");
    sqlpool::sqlite_source source{sqlpool::pool_config{.database = path}};
    BOOST_TEST(!source.identity_now().known()); // nothing opened yet
    sqlpool::connection conn = source.open(sqlpool::isolation_level::deferred);
    source.opened(conn);
    BOOST_TEST((source.identity_now() == conn.identity()));
    std::filesystem::remove(path);
    BOOST_TEST(!source.identity_now().known());          // deleted
    sqlpool::connection{path}.exec("CREATE TABLE t(v)"); // another file at the path
    BOOST_TEST(source.identity_now().known());
    BOOST_TEST((source.identity_now() != conn.identity()));
}

BOOST_AUTO_TEST_CASE(memory_lives_until_the_source_closes) {
    sqlpool::sqlite_source source{sqlpool::pool_config{.database = ":memory:"}};
    {
        sqlpool::connection first = source.open(sqlpool::isolation_level::deferred);
        first.exec("CREATE TABLE kept(v)");
    }
    {
        sqlpool::connection second = source.open(sqlpool::isolation_level::deferred);
        BOOST_TEST(tables_named(second, "kept") == 1); // the source kept the database alive
        source.close();
    }
    sqlpool::connection third = source.open(sqlpool::isolation_level::deferred);
    BOOST_TEST(tables_named(third, "kept") == 0); // a new, empty database of the same name
}

BOOST_AUTO_TEST_SUITE_END()

// Found while adding journal_size_limit: with an on_connect that sets a pragma, a configured
// pragma that answers an INTEGER (most do) made every open fail with "read as std::string" when
// the session's settings were adopted.
BOOST_AUTO_TEST_CASE(a_configured_integer_pragma_opens_with_an_on_connect_and_outlasts_a_return) {
    sqlpool_test::temp_dir dir{"source"};
    sqlpool::pool pool{sqlpool::pool_config{
        .database = dir.file("p.db"),
        .pragmas = {{"cache_size", "-2000"}},
        .max_connections = 1,
        .background_maintenance = false,
        .on_connect = [](sqlpool::connection& conn) { conn.exec("PRAGMA busy_timeout = 1234"); }}};
    {
        auto lease = pool.acquire();
        lease->exec("PRAGMA cache_size = 50");
        lease->exec("PRAGMA busy_timeout = 10");
    }
    auto lease = pool.acquire();
    BOOST_TEST(lease->query_value<std::int64_t>("PRAGMA cache_size") == -2000);
    BOOST_TEST(lease->query_value<std::int64_t>("PRAGMA busy_timeout") == 1234);
}

// Upkeep: PRAGMA optimize (with analysis_limit) when a connection opens and when it closes, as
// SQLite recommends for long-lived connections; statistics appear without anyone running ANALYZE.
BOOST_AUTO_TEST_CASE(optimize_gathers_statistics_at_close_and_open_unless_turned_off) {
    sqlpool_test::temp_dir dir{"source"};
    const auto statistics_rows = [](const std::string& path) {
        sqlpool::connection check(path);
        if (check.query_value<std::int64_t>(
                "SELECT count(*) FROM sqlite_schema WHERE name = 'sqlite_stat1'") == 0)
            return std::int64_t{-1};
        return check.query_value<std::int64_t>("SELECT count(*) FROM sqlite_stat1");
    };
    for (const bool optimize : {false, true}) {
        const std::string path = dir.file(optimize ? "on.db" : "off.db");
        {
            sqlpool::pool pool{
                sqlpool::pool_config{.database = path, .max_connections = 1, .optimize = optimize}};
            BOOST_TEST(pool.acquire()->query_value<std::int64_t>("PRAGMA analysis_limit") ==
                       (optimize ? 400 : 0));
            pool.write([](sqlpool::connection& c) {
                c.exec("CREATE TABLE t(a INTEGER, b TEXT); CREATE INDEX t_a ON t(a)");
                for (int i = 0; i < 2000; ++i) c.exec("INSERT INTO t VALUES (?, 'x')", i % 50);
            });
            auto lease = pool.acquire();
            (void)lease->query_value<std::int64_t>("SELECT count(*) FROM t WHERE a = 7"); // uses t_a
        } // the pool closes its connection: optimize runs there
        BOOST_TEST_CONTEXT("optimize=" << optimize) {
            if (optimize)
                BOOST_TEST(statistics_rows(path) > 0);
            else
                BOOST_TEST(statistics_rows(path) == -1);
        }
    }
}
