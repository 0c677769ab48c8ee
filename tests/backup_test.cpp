// backup: backup_to() under concurrent writes keeps every row acknowledged before it began and is
// never restarted by them; restore_from() under readers swaps the content in place and the pool
// goes on; bad input (a garbage, empty or missing file, the live file itself, a lease that never
// comes back, a progress callback that throws) gets a clear error and changes nothing. Through the
// public API, on real files, with real threads.
#define BOOST_TEST_MODULE backup
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "support/pool_helpers.hpp"
#include "support/thrown.hpp"

import sqlpool;

using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

using sqlpool_test::eventually;
using sqlpool_test::pool_fixture;
using sqlpool_test::thrown;

sqlpool::pool_config wal_config(const std::string& path) {
    return sqlpool::pool_config{.database = path, .max_connections = 6, .acquire_timeout = 10s};
}

template <class Pool>
void create_items(Pool& pool) {
    pool.write(
        [](sqlpool::connection& c) { c.exec("CREATE TABLE items(id INTEGER PRIMARY KEY, body BLOB)"); });
}

// `rows` rows of `bytes` bytes, each in a write() of its own.
template <class Pool>
void insert_items(Pool& pool, int rows, int bytes) {
    for (int i = 0; i < rows; ++i)
        pool.write([bytes](sqlpool::connection& c) {
            c.exec("INSERT INTO items(body) VALUES (zeroblob(?))", bytes);
        });
}

template <class Pool>
std::int64_t count_items(Pool& pool) {
    return pool.read(
        [](sqlpool::connection& c) { return c.query_value<std::int64_t>("SELECT count(*) FROM items"); });
}

// Rows of 1 KiB from `threads` writers, each id recorded once its write() returned.
template <class Pool>
class writers {
public:
    writers(Pool& pool, int threads) {
        for (int t = 0; t < threads; ++t)
            threads_.emplace_back([this, &pool] {
                while (!stop_.load()) {
                    const std::int64_t id = pool.write([](sqlpool::connection& c) {
                        c.exec("INSERT INTO items(body) VALUES (zeroblob(1024))");
                        return c.last_insert_rowid();
                    });
                    const std::lock_guard lock(mutex_);
                    acked_.insert(id);
                }
            });
    }
    writers(const writers&) = delete;
    writers& operator=(const writers&) = delete;
    ~writers() { stop(); }
    void stop() {
        stop_ = true;
        for (auto& t : threads_)
            if (t.joinable()) t.join();
    }
    std::set<std::int64_t> acked() {
        const std::lock_guard lock(mutex_);
        return acked_;
    }

private:
    std::atomic<bool> stop_{false};
    std::mutex mutex_;
    std::set<std::int64_t> acked_;
    std::vector<std::thread> threads_;
};

std::set<std::int64_t> ids_in(const std::string& file) {
    sqlpool::connection c({.path = file, .mode = sqlpool::open_mode::read_only});
    std::set<std::int64_t> ids;
    for (auto [id] : c.query<std::int64_t>("SELECT id FROM items")) ids.insert(id);
    return ids;
}

std::string integrity(const std::string& file) {
    sqlpool::connection c({.path = file, .mode = sqlpool::open_mode::read_only});
    return c.query_value<std::string>("PRAGMA integrity_check");
}

std::size_t files_in(const fs::path& dir) {
    return static_cast<std::size_t>(std::distance(fs::directory_iterator(dir), fs::directory_iterator()));
}

} // namespace

BOOST_FIXTURE_TEST_CASE(a_backup_under_writes_keeps_every_row_acknowledged_before_it, pool_fixture) {
    sqlpool::pool pool(wal_config(path));
    create_items(pool);
    writers<sqlpool::pool> load(pool, 2);
    BOOST_TEST(eventually([&] { return load.acked().size() >= 2000; }));
    const std::set<std::int64_t> before = load.acked();
    const std::string copy = dir.file("copy.db");
    std::int64_t last_copied = 0;
    // A copy that restarts under writes would restart for as long as they go on: fail instead.
    const sqlpool::backup_result result = sqlpool::backup_to(
        pool, copy,
        {.pages_per_step = 16, .pause = 1ms, .on_progress = [&](const sqlpool::backup_progress& p) {
             if (p.pages_copied < last_copied) throw std::logic_error("the backup restarted");
             last_copied = p.pages_copied;
         }});
    const std::set<std::int64_t> after = load.acked();
    load.stop();
    BOOST_TEST(result.steps > 10u);
    BOOST_TEST(after.size() > before.size()); // the writers went on during the copy
    BOOST_TEST(integrity(copy) == "ok");
    const std::set<std::int64_t> copied = ids_in(copy);
    std::size_t missing = 0;
    for (const std::int64_t id : before) missing += copied.count(id) == 0 ? 1 : 0;
    BOOST_TEST(missing == 0u);
    BOOST_TEST(copied.size() <= after.size());
    BOOST_TEST(result.bytes == fs::file_size(copy));
    BOOST_TEST(files_in(dir.path()) >= 2u);
    for (const auto& entry : fs::directory_iterator(dir.path()))
        BOOST_TEST(entry.path().filename().string().find(".tmp") == std::string::npos);
}

BOOST_FIXTURE_TEST_CASE(a_restore_under_readers_swaps_the_content_and_the_pool_goes_on, pool_fixture) {
    sqlpool::pool pool(wal_config(path));
    create_items(pool);
    insert_items(pool, 100, 100);
    const std::string copy = dir.file("copy.db");
    (void)sqlpool::backup_to(pool, copy);
    insert_items(pool, 50, 100);
    std::atomic<bool> stop{false};
    std::atomic<int> errors{0};
    std::atomic<std::uint64_t> reads{0};
    std::vector<std::thread> readers;
    for (int r = 0; r < 3; ++r)
        readers.emplace_back([&] {
            while (!stop.load()) {
                try {
                    const std::int64_t n = count_items(pool);
                    if (n != 100 && n != 150) ++errors;
                    ++reads;
                } catch (const std::exception&) {
                    ++errors;
                }
            }
        });
    BOOST_TEST(eventually([&] { return reads.load() > 50; }));
    const sqlpool::backup_result result = sqlpool::restore_from(pool, copy);
    BOOST_TEST(result.pages > 0);
    const std::uint64_t at_restore = reads.load();
    BOOST_TEST(eventually([&] { return reads.load() > at_restore + 50; }));
    stop = true;
    for (auto& t : readers) t.join();
    BOOST_TEST(errors.load() == 0);
    BOOST_TEST(!pool.suspended());
    BOOST_TEST(count_items(pool) == 100);
    BOOST_TEST(pool.stats().closed.evicted > 0u);
    pool.write([](sqlpool::connection& c) { c.exec("INSERT INTO items(body) VALUES (zeroblob(100))"); });
    BOOST_TEST(count_items(pool) == 101);
    BOOST_TEST(integrity(path) == "ok");
}

BOOST_FIXTURE_TEST_CASE(a_restore_from_bad_input_changes_nothing, pool_fixture) {
    sqlpool::pool pool(wal_config(path));
    create_items(pool);
    pool.write([](sqlpool::connection& c) { c.exec("INSERT INTO items(body) VALUES (1)"); });
    const std::string garbage = dir.file("garbage.db");
    std::ofstream(garbage) << std::string(8192, 'x');
    const std::string empty = dir.file("empty.db");
    std::ofstream{empty}.flush();
    for (const std::string& bad : {garbage, empty, dir.file("missing.db"), path}) {
        const auto error = thrown<sqlpool::backup_error>([&] { (void)sqlpool::restore_from(pool, bad); });
        BOOST_TEST_REQUIRE(error.has_value(), bad);
        BOOST_TEST(std::string(error->what()).find(bad) != std::string::npos, error->what());
    }
    BOOST_TEST(!pool.suspended());
    BOOST_TEST(count_items(pool) == 1);
}

BOOST_FIXTURE_TEST_CASE(a_restore_waits_for_leases_and_gives_up_cleanly, pool_fixture) {
    sqlpool::pool pool(wal_config(path));
    create_items(pool);
    const std::string copy = dir.file("copy.db");
    (void)sqlpool::backup_to(pool, copy);
    pool.write([](sqlpool::connection& c) { c.exec("INSERT INTO items(body) VALUES (1)"); });
    auto held = pool.acquire();
    const auto error =
        thrown<sqlpool::backup_error>([&] { (void)sqlpool::restore_from(pool, copy, {.timeout = 50ms}); });
    BOOST_REQUIRE(error.has_value());
    BOOST_TEST(std::string(error->what()).find("nothing was restored") != std::string::npos);
    BOOST_TEST(!pool.suspended());
    held = {};
    BOOST_TEST(count_items(pool) == 1);
    // A lease returned within the timeout is waited for.
    held = pool.acquire();
    std::thread returner([&] {
        std::this_thread::sleep_for(50ms);
        held = {};
    });
    (void)sqlpool::restore_from(pool, copy, {.timeout = 20s});
    returner.join();
    BOOST_TEST(count_items(pool) == 0);
}

BOOST_FIXTURE_TEST_CASE(a_backup_never_replaces_its_destination_with_a_partial_copy, pool_fixture) {
    sqlpool::pool pool(wal_config(path));
    create_items(pool);
    insert_items(pool, 200, 1024);
    const std::string copy = dir.file("copy.db");
    std::ofstream(copy) << "the previous backup";
    const std::size_t files = files_in(dir.path());
    const auto error = thrown<std::runtime_error>([&] {
        (void)sqlpool::backup_to(pool, copy,
                                 {.pages_per_step = 4, .on_progress = [](const sqlpool::backup_progress& p) {
                                      if (p.pages_copied > 8) throw std::runtime_error("operator cancelled");
                                  }});
    });
    BOOST_REQUIRE(error.has_value());
    BOOST_TEST(std::string(error->what()) == "operator cancelled");
    std::ifstream in(copy);
    BOOST_TEST(std::string(std::istreambuf_iterator<char>(in), {}) == "the previous backup");
    BOOST_TEST(files_in(dir.path()) == files); // no temporary left behind
    // The lease it used went back clean: the pool still writes.
    pool.write([](sqlpool::connection& c) { c.exec("INSERT INTO items(body) VALUES (1)"); });
}

BOOST_FIXTURE_TEST_CASE(a_backup_refuses_the_live_file_a_directory_and_a_missing_directory, pool_fixture) {
    sqlpool::pool pool(wal_config(path));
    create_items(pool);
    BOOST_TEST(thrown<sqlpool::backup_error>([&] { (void)sqlpool::backup_to(pool, path); }).has_value());
    BOOST_TEST(
        thrown<sqlpool::backup_error>([&] { (void)sqlpool::backup_to(pool, dir.path()); }).has_value());
    BOOST_TEST(thrown<sqlpool::backup_error>([&] {
                   (void)sqlpool::backup_to(pool, dir.path() / "no-such-dir" / "copy.db");
               }).has_value());
    BOOST_TEST(thrown<sqlpool::backup_error>([&] {
                   (void)sqlpool::backup_to(pool, dir.file("copy.db"), {.pages_per_step = 0});
               }).has_value());
    BOOST_TEST(integrity(path) == "ok");
}

BOOST_FIXTURE_TEST_CASE(vacuum_into_makes_a_compact_verified_copy, pool_fixture) {
    sqlpool::pool pool(wal_config(path));
    create_items(pool);
    insert_items(pool, 300, 1024);
    pool.write([](sqlpool::connection& c) { c.exec("DELETE FROM items WHERE id % 2 = 0"); });
    const std::string full = dir.file("full.db");
    const std::string compact = dir.file("compact.db");
    const auto copied = sqlpool::backup_to(pool, full);
    const auto vacuumed = sqlpool::vacuum_into(pool, compact);
    BOOST_TEST(vacuumed.bytes < copied.bytes);
    BOOST_TEST(ids_in(compact) == ids_in(full));
    BOOST_TEST(integrity(compact) == "ok");
}

BOOST_FIXTURE_TEST_CASE(a_rollback_journal_database_is_copied_in_one_step, pool_fixture) {
    auto config = wal_config(path);
    config.journal = sqlpool::journal_mode::delete_journal;
    sqlpool::pool pool(config);
    create_items(pool);
    insert_items(pool, 100, 1024);
    const std::string copy = dir.file("copy.db");
    const auto result = sqlpool::backup_to(pool, copy, {.pages_per_step = 4});
    BOOST_TEST(result.steps == 1u);
    BOOST_TEST(ids_in(copy).size() == 100u);
}

BOOST_FIXTURE_TEST_CASE(a_read_write_pool_backs_up_from_a_reader_and_restores_both_sides, pool_fixture) {
    sqlpool::read_write_pool<> pool(wal_config(path));
    create_items(pool);
    for (int i = 0; i < 20; ++i)
        pool.write([](sqlpool::connection& c) { c.exec("INSERT INTO items(body) VALUES (1)"); });
    const std::string copy = dir.file("copy.db");
    (void)sqlpool::backup_to(pool, copy);
    pool.write([](sqlpool::connection& c) { c.exec("DELETE FROM items"); });
    BOOST_TEST(count_items(pool) == 0);
    (void)sqlpool::restore_from(pool, copy);
    BOOST_TEST(count_items(pool) == 20);
    BOOST_TEST(!pool.suspended());
    pool.write([](sqlpool::connection& c) { c.exec("INSERT INTO items(body) VALUES (1)"); });
    BOOST_TEST(count_items(pool) == 21);
}

BOOST_AUTO_TEST_CASE(an_in_memory_pool_backs_up_but_does_not_restore) {
    const sqlpool_test::temp_dir dir{"backup-memory"};
    sqlpool::pool pool(sqlpool::pool_config{.database = ":memory:", .max_connections = 2});
    create_items(pool);
    pool.write([](sqlpool::connection& c) { c.exec("INSERT INTO items(body) VALUES (1)"); });
    const std::string copy = dir.file("copy.db");
    (void)sqlpool::backup_to(pool, copy);
    BOOST_TEST(ids_in(copy).size() == 1u);
    BOOST_TEST(thrown<sqlpool::backup_error>([&] { (void)sqlpool::restore_from(pool, copy); }).has_value());
}
