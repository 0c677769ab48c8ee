// checkpointer: a pool's WAL checkpoint manager, through pools on real files — PASSIVE rounds past
// the soft size, a reset WAL past the hard size, starvation reported (and the WAL reset once the
// reader pauses), and the modes that leave checkpoints to SQLite or to an outside tool. The
// partition is internal; these tests go through a pool.
#define BOOST_TEST_MODULE checkpointer
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>

#include "support/pool_helpers.hpp"

import sqlpool;

using namespace std::chrono_literals;

namespace {

using sqlpool_test::eventually;
using sqlpool_test::small_wal_config;
using sqlpool_test::wal_size;

void create_items(sqlpool::pool& pool) {
    pool.write(
        [](sqlpool::connection& c) { c.exec("CREATE TABLE items(id INTEGER PRIMARY KEY, payload BLOB)"); });
}

void insert_rows(sqlpool::pool& pool, int rows) {
    for (int i = 0; i < rows; ++i)
        pool.write(
            [](sqlpool::connection& c) { c.exec("INSERT INTO items(payload) VALUES (randomblob(1024))"); });
}

struct starvation_listener : sqlpool::pool_listener {
    std::atomic<int> starved{0};
    std::atomic<std::uint64_t> last_bytes{0};
    void on_wal_starved(std::uint64_t wal_bytes, std::uint64_t /*frames_behind*/) override {
        last_bytes = wal_bytes;
        ++starved;
    }
};

} // namespace

BOOST_FIXTURE_TEST_SUITE(checkpointer, sqlpool_test::pool_fixture)

BOOST_AUTO_TEST_CASE(passive_rounds_start_past_the_soft_limit) {
    sqlpool::pool pool(small_wal_config(path, 50ms));
    create_items(pool);
    insert_rows(pool, 200); // about 800 KiB of WAL, well past 64 KiB
    BOOST_TEST(eventually([&] { return pool.stats().wal.passive > 0; }));
    const sqlpool::pool_stats stats = pool.stats();
    BOOST_TEST(stats.wal.starved == 0u);
    BOOST_TEST(pool.read([](sqlpool::connection& c) {
        return c.query_value<std::int64_t>("SELECT count(*) FROM items");
    }) == 200);
}

BOOST_AUTO_TEST_CASE(the_wal_stays_under_its_cap_and_is_reset) {
    sqlpool::pool pool(small_wal_config(path, 50ms));
    create_items(pool);
    std::uint64_t largest = 0;
    for (int i = 0; i < 600; ++i) { // 2.4 MiB of pages through a 256 KiB cap
        insert_rows(pool, 1);
        largest = std::max(largest, wal_size(path));
    }
    BOOST_TEST(largest <= pool.config().wal_hard_limit);
    BOOST_TEST(pool.stats().wal.truncate > 0u);
}

BOOST_AUTO_TEST_CASE(a_reader_that_never_ends_is_reported_and_the_wal_resets_once_it_does) {
    auto listener = std::make_shared<starvation_listener>();
    sqlpool::pool_config config = small_wal_config(path, 50ms);
    config.listener = listener;
    sqlpool::pool pool(config);
    create_items(pool);
    std::optional<sqlpool::lease> reader = pool.acquire();
    {
        sqlpool::transaction snapshot = (*reader)->begin(sqlpool::isolation_level::deferred);
        (void)(*reader)->query_value<std::int64_t>("SELECT count(*) FROM items"); // holds its snapshot
        insert_rows(pool, 400); // past the cap: the escalation waits for the reader in vain
        BOOST_TEST(eventually([&] { return listener->starved.load() > 0; }));
        BOOST_TEST(pool.stats().wal.starved > 0u);
        BOOST_TEST(listener->last_bytes.load() > 0u);
        snapshot.commit();
    }
    reader.reset();
    insert_rows(pool, 1); // a commit past the cap asks for the next round
    BOOST_TEST(eventually(
        [&] { return pool.stats().wal.truncate > 0u && wal_size(path) < pool.config().wal_hard_limit; }));
    BOOST_TEST(pool.read([](sqlpool::connection& c) {
        return c.query_value<std::int64_t>("SELECT count(*) FROM items");
    }) == 401);
}

BOOST_AUTO_TEST_CASE(journal_size_limit_is_the_soft_limit_unless_configured) {
    {
        sqlpool::pool pool(small_wal_config(path, 50ms));
        BOOST_TEST(pool.acquire()->query_value<std::int64_t>("PRAGMA journal_size_limit") == 64 * 1024);
    }
    sqlpool::pool_config config = small_wal_config(path, 50ms);
    config.pragmas = {{"journal_size_limit", "12345"}};
    sqlpool::pool pool(config);
    BOOST_TEST(pool.acquire()->query_value<std::int64_t>("PRAGMA journal_size_limit") == 12345);
}

BOOST_AUTO_TEST_CASE(external_mode_never_checkpoints) {
    sqlpool::pool_config config = small_wal_config(path, 50ms);
    config.checkpoints = sqlpool::checkpoint_mode::external;
    sqlpool::pool pool(config);
    create_items(pool);
    BOOST_TEST(pool.acquire()->query_value<std::int64_t>("PRAGMA wal_autocheckpoint") == 0);
    insert_rows(pool, 400);
    std::this_thread::sleep_for(100ms);                 // several round intervals: none may checkpoint
    BOOST_TEST(wal_size(path) > config.wal_hard_limit); // the outside tool's job
    const sqlpool::pool_stats stats = pool.stats();
    BOOST_TEST(stats.wal.passive == 0u);
    BOOST_TEST(stats.wal.truncate == 0u);
}

BOOST_AUTO_TEST_CASE(sqlite_mode_keeps_sqlites_automatic_checkpoints) {
    sqlpool::pool_config config = small_wal_config(path, 50ms);
    config.checkpoints = sqlpool::checkpoint_mode::sqlite;
    config.pragmas = {{"wal_autocheckpoint", "100"}};
    sqlpool::pool pool(config);
    create_items(pool);
    BOOST_TEST(pool.acquire()->query_value<std::int64_t>("PRAGMA wal_autocheckpoint") == 100);
    insert_rows(pool, 50);
    BOOST_TEST(pool.stats().wal.passive == 0u);
}

BOOST_AUTO_TEST_CASE(without_background_maintenance_sqlite_checkpoints) {
    sqlpool::pool_config config = small_wal_config(path, 50ms);
    config.background_maintenance = false;
    sqlpool::pool pool(config);
    BOOST_TEST(pool.acquire()->query_value<std::int64_t>("PRAGMA wal_autocheckpoint") ==
               1000); // SQLite's default
}

BOOST_AUTO_TEST_CASE(a_replaced_file_is_checkpointed_not_the_old_one) {
    sqlpool::pool pool(small_wal_config(path, 50ms));
    create_items(pool);
    insert_rows(pool, 100);
    {
        sqlpool::connection fresh(dir.file("fresh.db"));
        fresh.exec("CREATE TABLE items(id INTEGER PRIMARY KEY, payload BLOB)");
    }
    std::filesystem::rename(dir.file("fresh.db"), path);
    std::filesystem::remove(path + "-wal");
    std::filesystem::remove(path + "-shm");
    // The first write may meet the move (database_moved_error) before the pool reconnects.
    BOOST_TEST(eventually([&] {
        try {
            insert_rows(pool, 1);
            return true;
        } catch (const sqlpool::error&) {
            return false;
        }
    }));
    const sqlpool::wal_counts before = pool.stats().wal;
    insert_rows(pool, 600);
    BOOST_TEST(eventually([&] {
        const sqlpool::wal_counts now = pool.stats().wal;
        return now.truncate > before.truncate && now.passive > before.passive;
    }));
    BOOST_TEST(wal_size(path) <= pool.config().wal_hard_limit);
}

BOOST_AUTO_TEST_SUITE_END()
