#define BOOST_TEST_MODULE read_write_pool
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "support/scratch_dir.hpp"

import sqlpool;

using namespace std::chrono_literals;

namespace {

sqlpool::pool_config config_for(const std::string& path) {
    return sqlpool::pool_config{
        .database = path, .min_connections = 1, .max_connections = 4, .background_maintenance = false};
}

using split_pool = sqlpool::read_write_pool<>;

} // namespace

BOOST_AUTO_TEST_SUITE(read_write_pool)

BOOST_AUTO_TEST_CASE(readers_are_query_only) {
    sqlpool_test::scratch_dir dir{"split"};
    split_pool pool{config_for(dir.file("s.db"))};
    pool.write([](sqlpool::connection& c) { c.exec("CREATE TABLE t(v INTEGER)"); });
    auto reader = pool.acquire();
    BOOST_CHECK_THROW(reader->exec("INSERT INTO t VALUES(1)"), sqlpool::sqlite_error);
    auto writer = pool.acquire_writer();
    writer->exec("INSERT INTO t VALUES(1)");
    BOOST_TEST(reader->query_value<std::int64_t>("SELECT count(*) FROM t") == 1);
}

// Every write() runs on the one writer connection, in turn, and none fails. busy_timeout is 0 so that nothing
// hides in SQLite's busy handler; a BEGIN IMMEDIATE can still meet SQLITE_BUSY for an instant when a reader
// catches the WAL-index header mid-update and takes the write lock to re-read it (wal.c, walIndexReadHdr).
// The runner retries that, so no write() fails; counting busy_seen here would count SQLite's scheduling, not
// the pool.
BOOST_AUTO_TEST_CASE(writers_take_turns_never_fail_and_readers_are_not_blocked) {
    sqlpool_test::scratch_dir dir{"split"};
    auto config = config_for(dir.file("s.db"));
    config.max_connections = 9;
    config.busy_timeout = 0ms;
    config.acquire_timeout = 10s;
    config.transaction_timeout = 30s;
    split_pool pool{config};
    pool.write(
        [](sqlpool::connection& c) { c.exec("CREATE TABLE t(id INTEGER PRIMARY KEY, writer INTEGER)"); });

    constexpr int writers = 8;
    constexpr int readers = 8;
    constexpr int per_thread = 200;
    std::atomic<std::uint64_t> acknowledged{0};
    std::atomic<std::uint64_t> reads{0};
    std::atomic<std::uint64_t> errors{0};
    std::mutex writer_connections_mutex;
    std::set<const sqlpool::connection*> writer_connections;
    std::vector<std::thread> threads;
    for (int w = 0; w < writers; ++w)
        threads.emplace_back([&, w] {
            for (int i = 0; i < per_thread; ++i) {
                try {
                    pool.write([&](sqlpool::connection& c) {
                        {
                            const std::scoped_lock lock{writer_connections_mutex};
                            writer_connections.insert(&c);
                        }
                        c.exec("INSERT INTO t(writer) VALUES(?)", w);
                    });
                    ++acknowledged;
                } catch (const std::exception&) {
                    ++errors;
                }
            }
        });
    for (int r = 0; r < readers; ++r)
        threads.emplace_back([&] {
            for (int i = 0; i < per_thread; ++i) {
                try {
                    (void)pool.read([](sqlpool::connection& c) {
                        return c.query_value<std::int64_t>("SELECT count(*) FROM t");
                    });
                    ++reads;
                } catch (const std::exception&) {
                    ++errors;
                }
            }
        });
    for (auto& t : threads) t.join();
    const auto s = pool.stats();
    BOOST_TEST(errors == 0u);
    BOOST_TEST(writer_connections.size() == 1u);
    BOOST_TEST(s.transactions.busy_surfaced == 0u);
    BOOST_TEST(acknowledged == static_cast<std::uint64_t>(writers * per_thread));
    BOOST_TEST(reads == static_cast<std::uint64_t>(readers * per_thread));
    BOOST_TEST(pool.read([](sqlpool::connection& c) {
        return c.query_value<std::int64_t>("SELECT count(*) FROM t");
    }) == static_cast<std::int64_t>(acknowledged.load()));
}

BOOST_AUTO_TEST_CASE(readers_are_opened_read_only_once_the_writer_created_the_file) {
    sqlpool_test::scratch_dir dir{"split"};
    const std::string path = dir.file("new.db");
    split_pool pool{config_for(path)};
    BOOST_TEST(std::filesystem::exists(path)); // the writer opened first and created it
    auto reader = pool.acquire();
    BOOST_TEST(reader->query_value<std::int64_t>("PRAGMA query_only") == 1);
    // query_only switched off by the borrower still cannot write: the connection is read-only
    reader->exec("PRAGMA query_only = 0");
    try {
        reader->exec("CREATE TABLE t(v INTEGER)");
        BOOST_FAIL("a reader wrote");
    } catch (const sqlpool::sqlite_error& e) {
        BOOST_TEST(e.code() == sqlpool::result_code::readonly);
    }
}

BOOST_AUTO_TEST_CASE(an_in_memory_database_is_shared_by_writer_and_readers) {
    split_pool pool{config_for(":memory:")};
    pool.write([](sqlpool::connection& c) {
        c.exec("CREATE TABLE t(v INTEGER)");
        c.exec("INSERT INTO t VALUES(7)");
    });
    BOOST_TEST(pool.read([](sqlpool::connection& c) {
        return c.query_value<std::int64_t>("SELECT v FROM t");
    }) == 7);
    auto reader = pool.acquire();
    BOOST_CHECK_THROW(reader->exec("INSERT INTO t VALUES(8)"), sqlpool::sqlite_error);
}

BOOST_AUTO_TEST_CASE(sizes_and_stats_add_up_across_the_two_sides) {
    sqlpool_test::scratch_dir dir{"split"};
    auto config = config_for(dir.file("s.db"));
    config.max_connections = 5;
    split_pool pool{config};
    BOOST_TEST(pool.writer().config().max_connections == 1u);
    BOOST_TEST(pool.readers().config().max_connections == 4u);
    BOOST_TEST(pool.config().max_connections == 5u); // as given
    pool.write([](sqlpool::connection& c) { c.exec("CREATE TABLE t(v INTEGER)"); });
    (void)pool.read(
        [](sqlpool::connection& c) { return c.query_value<std::int64_t>("SELECT count(*) FROM t"); });
    const auto s = pool.stats();
    BOOST_TEST(s.max_connections == 5u);
    BOOST_TEST(s.transactions.committed == 2u);
    BOOST_TEST(s.acquired == pool.writer().stats().acquired + pool.readers().stats().acquired);
    BOOST_TEST(pool.close().complete);
    BOOST_TEST(pool.closed());
    BOOST_CHECK_THROW((void)pool.acquire_writer(), sqlpool::pool_closed_error);
}

BOOST_AUTO_TEST_CASE(an_invalid_config_is_refused_before_anything_opens) {
    sqlpool_test::scratch_dir dir{"split"};
    auto config = config_for(dir.file("never.db"));
    config.min_connections = 9;
    BOOST_CHECK_THROW(split_pool{config}, sqlpool::config_error);
    BOOST_TEST(!std::filesystem::exists(dir.file("never.db")));
}

BOOST_AUTO_TEST_CASE(the_service_runs_on_a_read_write_pool) {
    sqlpool_test::scratch_dir dir{"split"};
    sqlpool::database_options options;
    options.pool = config_for(dir.file("svc.db"));
    options.schema.migrations = {{1, "items", "CREATE TABLE items(v INTEGER)"},
                                 {2, "more", "ALTER TABLE items ADD COLUMN w INTEGER"}};
    sqlpool::basic_database<split_pool> db{options};
    db.start();
    BOOST_TEST(db.schema_version() == 2);
    db.exec("INSERT INTO items(v, w) VALUES(1, 2)");
    BOOST_TEST(db.underlying_pool()->read([](sqlpool::connection& c) {
        return c.query_value<std::int64_t>("SELECT count(*) FROM items");
    }) == 1);
    db.stop();
}

BOOST_AUTO_TEST_SUITE_END()
