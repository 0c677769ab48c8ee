// reader_gate: the reader gap of a WAL checkpoint — shared by every pool on one file (a
// read_write_pool's readers are held by its writer's checkpointer), and always ending by itself,
// so that a reader that never finishes cannot stall the others. The partition is internal; these
// tests go through pools on real files with real threads.
#define BOOST_TEST_MODULE reader_gate
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "support/pool_helpers.hpp"

import sqlpool;

using namespace std::chrono_literals;

namespace {

using sqlpool_test::eventually;
using sqlpool_test::small_wal_config;
using sqlpool_test::wal_size;

template <class Pool>
void create_items(Pool& pool) {
    pool.write(
        [](sqlpool::connection& c) { c.exec("CREATE TABLE items(id INTEGER PRIMARY KEY, payload BLOB)"); });
}

// `rows` rows of 1 KiB, one write() each.
template <class Pool>
void insert_kib_rows(Pool& pool, int rows) {
    for (int i = 0; i < rows; ++i)
        pool.write(
            [](sqlpool::connection& c) { c.exec("INSERT INTO items(payload) VALUES (randomblob(1024))"); });
}

// Readers on `pool` whose transactions overlap (each ~2 ms, started 1 ms apart) until stopped.
template <class Pool>
class overlapping_readers {
public:
    explicit overlapping_readers(Pool& pool) {
        for (int r = 0; r < 3; ++r)
            threads_.emplace_back([this, &pool, r] {
                std::this_thread::sleep_for(std::chrono::milliseconds(r));
                while (!stop_.load()) {
                    pool.read([](sqlpool::connection& c) {
                        (void)c.query_value<std::int64_t>("SELECT count(*) FROM items");
                        std::this_thread::sleep_for(2ms);
                    });
                    ++reads_;
                }
            });
    }
    overlapping_readers(const overlapping_readers&) = delete;
    overlapping_readers& operator=(const overlapping_readers&) = delete;
    ~overlapping_readers() { stop(); }
    void stop() {
        stop_ = true;
        for (auto& t : threads_)
            if (t.joinable()) t.join();
    }
    [[nodiscard]] std::uint64_t reads() const { return reads_.load(); }

private:
    std::atomic<bool> stop_{false};
    std::atomic<std::uint64_t> reads_{0};
    std::vector<std::thread> threads_;
};

} // namespace

BOOST_FIXTURE_TEST_SUITE(reader_gate, sqlpool_test::pool_fixture)

// The readers are a pool of their own: unless the writer's checkpointer holds them too, some
// reader is always in the WAL and it is never reset.
BOOST_AUTO_TEST_CASE(the_readers_of_a_read_write_pool_are_held_by_its_writers_checkpoints) {
    // A gap of a second: a reader preempted for longer than the gap on a loaded machine would defeat
    // an escalation, and the WAL would then pass its cap by design.
    sqlpool::read_write_pool pool(small_wal_config(path, 1s));
    create_items(pool);
    overlapping_readers readers(pool);
    std::uint64_t largest = 0;
    for (int i = 0; i < 1500; ++i) { // about 6 MiB of pages through a 256 KiB cap
        pool.write(
            [](sqlpool::connection& c) { c.exec("INSERT INTO items(payload) VALUES (randomblob(1024))"); });
        largest = std::max(largest, wal_size(path));
    }
    readers.stop();
    BOOST_TEST(readers.reads() > 0u);
    BOOST_TEST(largest <= pool.config().wal_hard_limit);
    BOOST_TEST(pool.stats().wal.truncate > 0u);
}

// A snapshot held for good starves the WAL; the other readers are held a reader_gap at a time,
// never for good.
BOOST_AUTO_TEST_CASE(a_gap_ends_by_itself_when_a_reader_never_finishes) {
    sqlpool::pool pool(small_wal_config(path, 100ms));
    create_items(pool);
    std::optional<sqlpool::lease> stuck = pool.acquire();
    sqlpool::transaction snapshot = (*stuck)->begin(sqlpool::isolation_level::deferred);
    (void)(*stuck)->query_value<std::int64_t>("SELECT count(*) FROM items");
    insert_kib_rows(pool, 400);
    BOOST_TEST(eventually([&] { return pool.stats().wal.starved >= 2; })); // two escalations failed
    overlapping_readers readers(pool);
    const std::uint64_t gaps = pool.stats().wal.reader_gaps;
    BOOST_TEST(
        eventually([&] { return pool.stats().wal.reader_gaps >= gaps + 2; })); // more gaps came and went
    const std::uint64_t reads = readers.reads();
    BOOST_TEST(eventually([&] { return readers.reads() > reads + 10; })); // and the readers went on
    readers.stop();
    snapshot.commit();
}

// The cap: a reader that never lets its snapshot go would starve the WAL for good. After
// read_transaction_limit of failed escalations its statement is interrupted, and the next
// checkpoint resets the WAL.
BOOST_AUTO_TEST_CASE(a_read_that_outlasts_read_transaction_limit_in_a_starving_wal_is_interrupted) {
    auto config = small_wal_config(path, 100ms);
    config.read_transaction_limit = 500ms;
    sqlpool::pool pool(config);
    create_items(pool);
    std::atomic<bool> reading{false};
    std::atomic<int> outcome{0}; // 1: timeout_error
    std::thread reader([&] {
        try {
            pool.read([&](sqlpool::connection& c) {
                (void)c.query_value<std::int64_t>("SELECT count(*) FROM items"); // the snapshot
                reading = true;
                // About a minute of work unless interrupted.
                return c.query_value<std::int64_t>(
                    "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c "
                    "WHERE x < 200000000) SELECT max(x) FROM c");
            });
            outcome = 2;
        } catch (const sqlpool::timeout_error&) {
            outcome = 1;
        } catch (...) {
            outcome = 3;
        }
    });
    BOOST_TEST(eventually([&] { return reading.load(); }));
    insert_kib_rows(pool, 400); // about 1.6 MiB of pages through a 256 KiB cap
    BOOST_TEST(eventually([&] { return outcome.load() != 0; }));
    reader.join();
    BOOST_TEST(outcome.load() == 1);
    BOOST_TEST(pool.stats().wal.read_caps >= 1u);
    BOOST_TEST(eventually([&] { return wal_size(path) <= pool.config().wal_hard_limit; }));
    BOOST_TEST(
        pool.read([](sqlpool::connection& c) { // the cap is lifted: long enough to meet the progress handler
            return c.query_value<std::int64_t>(
                "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c "
                "WHERE x < 100000) SELECT max(x) FROM c");
        }) == 100000);
}

// A snapshot held by a lease that runs nothing cannot be interrupted; its next read is refused,
// and the COMMIT that ends it goes through.
BOOST_AUTO_TEST_CASE(an_idle_snapshot_past_the_limit_is_refused_its_next_read_but_may_end) {
    auto config = small_wal_config(path, 100ms);
    config.read_transaction_limit = 300ms;
    sqlpool::pool pool(config);
    create_items(pool);
    std::optional<sqlpool::lease> stuck = pool.acquire();
    sqlpool::transaction snapshot = (*stuck)->begin(sqlpool::isolation_level::deferred);
    (void)(*stuck)->query_value<std::int64_t>("SELECT count(*) FROM items");
    insert_kib_rows(pool, 400);
    BOOST_TEST(eventually([&] { return pool.stats().wal.read_caps >= 1; }));
    BOOST_CHECK_THROW((void)(*stuck)->query_value<std::int64_t>("SELECT count(*) FROM items"),
                      sqlpool::timeout_error);
    BOOST_CHECK_NO_THROW(snapshot.commit());
    stuck.reset();
    BOOST_TEST(eventually([&] { return wal_size(path) <= pool.config().wal_hard_limit; }));
    BOOST_TEST(pool.read([](sqlpool::connection& c) {
        return c.query_value<std::int64_t>("SELECT count(*) FROM items");
    }) == 400);
}

BOOST_AUTO_TEST_SUITE_END()
