// Faults against real servers (the pg_faults fixture's own primary and standby, which these cases
// restart and stop): a primary restarted under load loses no acknowledged write and the pool
// recovers by itself; a stopped standby sends reads to the primary or fails them clearly, as
// configured. Each case prints its counts (docs/reliability.md quotes them).
#define BOOST_TEST_MODULE pg_faults
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "pg_support.hpp"

import sqlpool.postgres;

namespace pg = sqlpool::postgres;
using namespace std::chrono_literals;

namespace {

sqlpool::pool_config config(const std::string& conninfo, std::size_t max = 4) {
    sqlpool::pool_config c;
    c.database = conninfo;
    c.min_connections = 1;
    c.max_connections = max;
    c.acquire_timeout = 10s;
    c.transaction_timeout = 10s;
    return c;
}

struct load_counts {
    std::mutex mutex;
    std::set<int> acknowledged;
    std::atomic<int> failed{0};
    std::atomic<int> unknown{0};
    std::atomic<std::int64_t> longest_ms{0};
};

// Writers insert unique ids until `stop`; each acknowledged id is recorded, each failure counted.
void write_until(pg::pool& pool, int writer, const std::atomic<bool>& stop, load_counts& counts) {
    for (int i = 0; !stop; ++i) {
        const int id = writer * 1'000'000 + i;
        const auto started = std::chrono::steady_clock::now();
        try {
            pg::write(pool, [&](pg::connection& conn) { conn.exec("INSERT INTO acked VALUES ($1)", id); });
            const std::lock_guard lock(counts.mutex);
            counts.acknowledged.insert(id);
        } catch (const sqlpool::commit_unknown_error&) {
            counts.unknown.fetch_add(1);
        } catch (const sqlpool::error&) {
            counts.failed.fetch_add(1);
        }
        const auto ms =
            std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
        std::int64_t seen = counts.longest_ms.load();
        while (ms.count() > seen && !counts.longest_ms.compare_exchange_weak(seen, ms.count())) {
        }
    }
}

std::set<int> ids_in_table() {
    pg::connection conn(pg_test::primary());
    std::set<int> ids;
    for (const auto& [id] : conn.query<int>("SELECT id FROM acked")) ids.insert(id);
    return ids;
}

void restart_under_load(const std::string& mode) {
    {
        pg::connection conn(pg_test::primary());
        conn.exec("DROP TABLE IF EXISTS acked; CREATE TABLE acked (id int PRIMARY KEY)");
    }
    pg::pool pool(config(pg_test::primary()));
    load_counts counts;
    std::atomic<bool> stop{false};
    std::vector<std::jthread> writers;
    for (int w = 0; w < 4; ++w) writers.emplace_back([&, w] { write_until(pool, w, stop, counts); });
    std::this_thread::sleep_for(500ms);
    for (int round = 0; round < 2; ++round) {
        pg_test::cluster("restart", "primary " + mode);
        std::this_thread::sleep_for(700ms);
    }
    const auto before_end = counts.acknowledged.size();
    std::this_thread::sleep_for(500ms);
    stop = true;
    writers.clear();
    const std::set<int> stored = ids_in_table();
    const bool all_there = std::ranges::includes(stored, counts.acknowledged);
    BOOST_TEST(all_there);
    BOOST_TEST(stored.size() <= counts.acknowledged.size() + static_cast<std::size_t>(counts.unknown.load()));
    BOOST_TEST(counts.acknowledged.size() > before_end); // writes went on after the last restart
    const auto stats = pool.stats();
    BOOST_TEST_MESSAGE("restart " << mode << " x2 under 4 writers: acknowledged "
                                  << counts.acknowledged.size() << ", in the table " << stored.size()
                                  << ", failed " << counts.failed.load() << ", commit unknown "
                                  << counts.unknown.load() << ", longest call " << counts.longest_ms.load()
                                  << " ms, connections retired broken " << stats.closed.broken << ", opened "
                                  << stats.created);
}

} // namespace

BOOST_AUTO_TEST_CASE(a_primary_restarted_fast_under_load_loses_no_acknowledged_write) {
    restart_under_load("fast");
}

BOOST_AUTO_TEST_CASE(a_primary_crashing_under_load_loses_no_acknowledged_write) {
    restart_under_load("immediate");
}

BOOST_AUTO_TEST_CASE(a_stopped_standby_sends_reads_to_the_primary_or_fails_them_as_configured) {
    pg::read_write_pool<> fallback(config(pg_test::primary()), config(pg_test::standby()),
                                   pg::reader_fallback::primary);
    pg::read_write_pool<> strict(config(pg_test::primary()), config(pg_test::standby()),
                                 pg::reader_fallback::none);
    auto recovering = [](pg::connection& conn) {
        return conn.query_value<bool>("SELECT pg_is_in_recovery()");
    };
    BOOST_TEST(fallback.read(recovering));
    BOOST_TEST(strict.read(recovering));
    pg_test::cluster("stop-server", "standby fast");
    int fell_back = 0;
    for (int i = 0; i < 10; ++i) fell_back += fallback.read(recovering) ? 0 : 1;
    BOOST_TEST(fell_back == 10); // every read answered, by the primary
    const auto started = std::chrono::steady_clock::now();
    BOOST_CHECK_THROW((void)strict.read(recovering), sqlpool::connection_lost_error);
    const auto failed_after =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
    pg_test::cluster("start-server", "standby");
    BOOST_TEST(strict.read(recovering)); // back by itself once the standby is
    BOOST_TEST_MESSAGE(
        "standby stopped: 10/10 reads answered by the primary (fallback), strict read failed after "
        << failed_after.count() << " ms; strict reads back on the standby after its start");
}
