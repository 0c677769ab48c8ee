// file_generation: which database file a pool's connections have open once the file at the path is
// deleted or replaced. It is internal; these tests go through a pool. (Where connections connect,
// ":memory:" and in-memory URIs, is sqlite_source's: sqlite_source_test.)
#define BOOST_TEST_MODULE file_generation
#include <boost/test/unit_test.hpp>

#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <initializer_list>
#include <string>

#include "support/temp_dir.hpp"

import sqlpool;

using namespace std::chrono_literals;

namespace {

std::int64_t tables_named(sqlpool::connection& conn, const std::string& name) {
    return conn.query_value<std::int64_t>("SELECT count(*) FROM sqlite_schema WHERE name = ?", name);
}

} // namespace

// ---------------------------------------------------------------------------------------------------
// A file replaced under the pool: connections to the old file never meet connections to the new one.
namespace {

using unchecked =
    sqlpool::basic_pool<sqlpool::locking::std_mutex, sqlpool::health::no_check, sqlpool::recycling::never>;

struct replaced_file {
    sqlpool_test::temp_dir dir{"generation"};
    std::string path = dir.file("g.db");
    sqlpool::pool_config config{.database = path,
                                .busy_timeout = 50ms,
                                .journal = sqlpool::journal_mode::delete_journal,
                                .min_connections = 1,
                                .max_connections = 2,
                                .acquire_timeout = 200ms,
                                .background_maintenance = false};

    // Renames a fresh database with table `restored` over the path, the way a restore would.
    void replace() const {
        const auto replacement = dir.file("replacement.db");
        {
            sqlpool::connection fresh{
                sqlpool::open_options{.path = replacement, .journal = sqlpool::journal_mode::delete_journal}};
            fresh.exec("CREATE TABLE restored(v)");
        }
        std::filesystem::rename(replacement, path);
    }
};

} // namespace

BOOST_FIXTURE_TEST_SUITE(a_replaced_file, replaced_file)

BOOST_AUTO_TEST_CASE(a_moved_error_retires_the_connection_and_the_next_one_opens_the_new_file) {
    unchecked pool{config};
    pool.write([](sqlpool::connection& c) { c.exec("CREATE TABLE old(v)"); });
    replace();
    BOOST_CHECK_THROW(
        {
            auto lease = pool.acquire(); // the idle connection, still on the old file
            lease->exec("INSERT INTO old VALUES(1)");
        },
        sqlpool::database_moved_error);
    auto lease = pool.acquire();
    BOOST_TEST(tables_named(*lease, "restored") == 1);
    BOOST_TEST(tables_named(*lease, "old") == 0);
    BOOST_TEST(pool.stats().closed.broken >= 1u);
}

BOOST_AUTO_TEST_CASE(no_connection_opens_on_the_new_file_while_one_to_the_old_is_leased) {
    unchecked pool{config};
    auto old_lease = pool.acquire();
    const auto old_id = old_lease.info().id;
    replace();
    // A second connection would open on the new file beside one on the old: refused after
    // acquire_timeout, naming the cause.
    try {
        (void)pool.acquire();
        BOOST_ERROR("a connection opened on the new file");
    } catch (const sqlpool::database_moved_error& e) {
        BOOST_TEST(std::string(e.what()).find("return them first") != std::string::npos, e.what());
    }
    old_lease.release(); // retires: its file is gone from the path
    auto lease = pool.acquire();
    BOOST_TEST(lease.info().id != old_id);
    BOOST_TEST(tables_named(*lease, "restored") == 1);
}

BOOST_AUTO_TEST_SUITE_END()
