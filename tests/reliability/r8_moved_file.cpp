// R8 moved file: the database file is deleted, or replaced by a rename (a backup restore), under a
// running pool with the default policies. No call may be acknowledged whose effect a connection
// newly opened on the same path cannot read; a call that fails says the file moved; the pool
// retires the connections to the old file and works on the new one.
#include <boost/test/unit_test.hpp>

#include <sqlite3.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <unistd.h>

#include "reliability/reliability.hpp"
#include "support/scratch_dir.hpp"

import sqlpool;

using namespace std::chrono_literals;
namespace rel = sqlpool_reliability;

namespace {

enum class swap_kind { deleted, replaced };

constexpr const char* create_items = "CREATE TABLE IF NOT EXISTS items(id INTEGER PRIMARY KEY, tag TEXT)";

// What an operator does: with the WAL and shared-memory files first (they belong to the old
// file; https://sqlite.org/howtocorrupt.html#unlinking_or_renaming_a_database_file_while_in_use),
// then the database itself, so that the pool can notice nothing before the swap is complete.
void swap_file(const std::string& path, swap_kind kind, const std::string& restored) {
    ::unlink((path + "-wal").c_str());
    ::unlink((path + "-shm").c_str());
    if (kind == swap_kind::deleted) {
        BOOST_REQUIRE(::unlink(path.c_str()) == 0);
    } else {
        BOOST_REQUIRE(std::rename(restored.c_str(), path.c_str()) == 0);
    }
}

// A restored copy: the same table, other rows, in its own file.
void make_restored_copy(const std::string& restored) {
    sqlpool::connection c(
        sqlpool::open_options{.path = restored, .journal = sqlpool::journal_mode::delete_journal});
    c.exec(create_items);
    c.exec("INSERT INTO items(id, tag) VALUES (-1, 'restored')");
}

sqlpool::pool_config config_for(const std::string& path, sqlpool::journal_mode journal, std::size_t size) {
    return sqlpool::pool_config{.database = path,
                                .journal = journal,
                                .min_connections = size,
                                .max_connections = size,
                                .acquire_timeout = 30s,
                                .transaction_timeout = 20s,
                                .background_maintenance = false};
}

bool is_moved(const sqlpool::sqlite_error& e) {
    return e.extended_code() == SQLITE_READONLY_DBMOVED;
}

// The ids a connection newly opened on `path` can read.
std::set<std::int64_t> visible_ids(const std::string& path) {
    sqlpool::connection fresh(
        sqlpool::open_options{.path = path, .journal = sqlpool::journal_mode::unchanged});
    std::set<std::int64_t> ids;
    if (fresh.query_value<std::int64_t>("SELECT count(*) FROM sqlite_schema WHERE name = 'items'") == 0)
        return ids; // a new, empty file
    for (const auto& [id] : fresh.query<std::int64_t>("SELECT id FROM items")) ids.insert(id);
    return ids;
}

struct outcome {
    std::vector<std::int64_t> acknowledged;
    std::uint64_t moved_errors = 0;
    std::uint64_t failed_late = 0; // calls that failed after the pool should have recovered
};

void insert(sqlpool::connection& c, std::int64_t id) {
    c.exec(create_items);
    c.exec("INSERT INTO items(id, tag) VALUES (?, 'after')", id);
}

// One call of each kind a user makes: write(), an autocommit statement on a lease, and an explicit
// transaction on a lease. Two leases are held while write() runs, so that every connection of the
// three-connection pool meets the moved file.
void round_of_calls(sqlpool::pool& pool, std::int64_t& next_id, int round, outcome& out) {
    auto attempt = [&](auto&& call) {
        const std::int64_t id = next_id++;
        try {
            call(id);
            out.acknowledged.push_back(id);
        } catch (const sqlpool::sqlite_error& e) {
            BOOST_TEST_REQUIRE(is_moved(e), "a call failed for another reason than the move: " << e.what());
            ++out.moved_errors;
            if (round >= 2) ++out.failed_late;
        }
    };
    sqlpool::lease a = pool.acquire();
    sqlpool::lease b = pool.acquire();
    attempt([&](std::int64_t id) { pool.write([&](sqlpool::connection& c) { insert(c, id); }); });
    attempt([&](std::int64_t id) { insert(*a, id); });
    attempt([&](std::int64_t id) {
        b->exec(create_items);
        auto tx = b->begin(sqlpool::isolation_level::immediate);
        b->exec("INSERT INTO items(id, tag) VALUES (?, 'after')", id);
        tx.commit();
    });
}

void run_single_threaded(sqlpool::journal_mode journal, swap_kind kind, const char* name) {
    sqlpool_test::scratch_dir dir{"r8"};
    const std::string path = dir.file("app.db");
    const std::string restored = dir.file("restored.db");
    make_restored_copy(restored);
    rel::watchdog guard(std::string("R8 ") + name);

    // Round 0 after the swap holds two leases on the old file while write() needs a connection
    // to the new one, which waits for them (up to acquire_timeout): short timeouts keep it brief.
    auto config = config_for(path, journal, 3);
    config.busy_timeout = 200ms;
    config.acquire_timeout = config.transaction_timeout = 1s;
    sqlpool::pool pool{config};
    std::int64_t next_id = 1;
    outcome before;
    round_of_calls(pool, next_id, 0, before); // every connection has the old file open
    BOOST_TEST_REQUIRE(before.moved_errors == 0u);

    swap_file(path, kind, restored);
    outcome after;
    const int rounds = 6;
    for (int round = 0; round < rounds; ++round) round_of_calls(pool, next_id, round, after);

    const auto visible = visible_ids(path);
    std::uint64_t lost = 0;
    for (const auto id : after.acknowledged) lost += visible.contains(id) ? 0 : 1;
    const auto s = pool.stats();
    rel::figures(
        std::string("R8 ") + name,
        "calls=" + std::to_string(rounds * 3) + " acknowledged=" + std::to_string(after.acknowledged.size()) +
            " moved_errors=" + std::to_string(after.moved_errors) + " lost=" + std::to_string(lost) +
            " retired_broken=" + std::to_string(s.closed.broken) + " open=" + std::to_string(s.total));
    BOOST_TEST(lost == 0u, lost << " acknowledged call(s) cannot be read through the path");
    BOOST_TEST(after.failed_late == 0u,
               "the pool did not recover: " << after.failed_late << " late failure(s)");
    BOOST_TEST(after.acknowledged.size() >= static_cast<std::size_t>((rounds - 2) * 3));
    BOOST_TEST(visible.contains(-1) == (kind == swap_kind::replaced));
}

// Four threads write through write() while the file is swapped under them. Every write that began
// after the swap and was acknowledged must be readable through the path.
void run_threaded(sqlpool::journal_mode journal, swap_kind kind, const char* name) {
    sqlpool_test::scratch_dir dir{"r8t"};
    const std::string path = dir.file("app.db");
    const std::string restored = dir.file("restored.db");
    make_restored_copy(restored);
    sqlpool::pool pool{config_for(path, journal, 4)};
    pool.write([](sqlpool::connection& c) { c.exec(create_items); });

    const std::int64_t per_thread = static_cast<std::int64_t>(rel::scaled(400));
    std::atomic<bool> swapped{false};
    std::atomic<std::int64_t> progress{0};
    std::mutex mutex;
    std::vector<std::int64_t> acknowledged_after_swap;
    std::atomic<std::uint64_t> moved_errors{0}, other_errors{0};
    rel::watchdog guard(std::string("R8 threaded ") + name,
                        [&] { return "writes=" + std::to_string(progress.load()); });

    std::vector<std::thread> writers;
    for (std::int64_t t = 0; t < 4; ++t) {
        writers.emplace_back([&, t] {
            for (std::int64_t i = 0; i < per_thread; ++i) {
                const std::int64_t id = t * 1'000'000 + i + 1;
                const bool began_after_swap = swapped.load();
                try {
                    pool.write([&](sqlpool::connection& c) { insert(c, id); });
                    if (began_after_swap) {
                        std::lock_guard lock(mutex);
                        acknowledged_after_swap.push_back(id);
                    }
                } catch (const sqlpool::sqlite_error& e) {
                    (is_moved(e) ? moved_errors : other_errors).fetch_add(1);
                    if (!is_moved(e)) BOOST_TEST_MESSAGE("unexpected: " << e.what());
                }
                progress.fetch_add(1);
            }
        });
    }
    while (progress.load() < per_thread) std::this_thread::sleep_for(1ms); // a quarter of the writes
    swap_file(path, kind, restored);
    swapped.store(true);
    for (auto& w : writers) w.join();

    const auto visible = visible_ids(path);
    std::uint64_t lost = 0;
    for (const auto id : acknowledged_after_swap) lost += visible.contains(id) ? 0 : 1;
    rel::figures(std::string("R8 threaded ") + name,
                 "writes=" + std::to_string(progress.load()) +
                     " acknowledged_after_swap=" + std::to_string(acknowledged_after_swap.size()) +
                     " moved_errors=" + std::to_string(moved_errors.load()) + " lost=" +
                     std::to_string(lost) + " retired_broken=" + std::to_string(pool.stats().closed.broken));
    BOOST_TEST(lost == 0u, lost << " acknowledged write(s) cannot be read through the path");
    BOOST_TEST(other_errors.load() == 0u);
    BOOST_TEST(!acknowledged_after_swap.empty());
}

} // namespace

BOOST_AUTO_TEST_SUITE(r8_moved_file)

BOOST_AUTO_TEST_CASE(wal_deleted) {
    run_single_threaded(sqlpool::journal_mode::wal, swap_kind::deleted, "wal deleted");
}
BOOST_AUTO_TEST_CASE(wal_replaced) {
    run_single_threaded(sqlpool::journal_mode::wal, swap_kind::replaced, "wal replaced");
}
BOOST_AUTO_TEST_CASE(rollback_deleted) {
    run_single_threaded(sqlpool::journal_mode::delete_journal, swap_kind::deleted, "delete deleted");
}
BOOST_AUTO_TEST_CASE(rollback_replaced) {
    run_single_threaded(sqlpool::journal_mode::delete_journal, swap_kind::replaced, "delete replaced");
}
BOOST_AUTO_TEST_CASE(threaded_wal_replaced) {
    run_threaded(sqlpool::journal_mode::wal, swap_kind::replaced, "wal replaced");
}
BOOST_AUTO_TEST_CASE(threaded_wal_deleted) {
    run_threaded(sqlpool::journal_mode::wal, swap_kind::deleted, "wal deleted");
}
BOOST_AUTO_TEST_CASE(threaded_rollback_replaced) {
    run_threaded(sqlpool::journal_mode::delete_journal, swap_kind::replaced, "delete replaced");
}
BOOST_AUTO_TEST_CASE(threaded_rollback_deleted) {
    run_threaded(sqlpool::journal_mode::delete_journal, swap_kind::deleted, "delete deleted");
}

BOOST_AUTO_TEST_SUITE_END()
