// slot_entry: what a pool shows of each connection — pool.connections() lists every connection,
// idle or leased, with its metadata (id, created, last used, uses, health), its holder (thread,
// where it acquired, for how long) and the statement it has been running for a while; read by
// other threads while the pool runs. The partition is internal; these tests go through a pool.
#define BOOST_TEST_MODULE slot_entry
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <set>
#include <source_location>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

#include "support/pool_helpers.hpp"

import sqlpool;

using namespace std::chrono_literals;

namespace {

using sqlpool_test::eventually;
using sqlpool_test::pool_fixture;
using sqlpool_test::small_config;

// A query that runs for minutes unless interrupted.
constexpr const char* endless_query = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE "
                                      "x < 5000000000) SELECT max(x) FROM c";

const sqlpool::connection_snapshot* find_id(const std::vector<sqlpool::connection_snapshot>& all,
                                            std::uint64_t id) {
    const auto found = std::ranges::find_if(all, [id](const auto& c) { return c.info.id == id; });
    return found != all.end() ? &*found : nullptr;
}

} // namespace

BOOST_FIXTURE_TEST_SUITE(connections, pool_fixture)

BOOST_AUTO_TEST_CASE(every_connection_is_listed_with_its_metadata_and_a_leased_one_with_its_holder) {
    sqlpool::pool pool(small_config(path, 2, 3));
    auto idle = pool.connections();
    BOOST_TEST_REQUIRE(idle.size() == 2u);
    for (const auto& c : idle) {
        BOOST_TEST((c.use == sqlpool::connection_use::idle));
        BOOST_TEST(!c.holder.has_value());
        BOOST_TEST(c.info.use_count == 0u);
        BOOST_TEST((c.info.health == sqlpool::health_status::healthy));
        BOOST_TEST(c.info.created_at.time_since_epoch().count() > 0);
        BOOST_TEST(c.sql.empty());
    }
    std::uint64_t id = 0;
    std::uint_least32_t line = 0;
    {
        line = std::source_location::current().line() + 1;
        auto lease = pool.acquire();
        id = lease.info().id;
        const auto all = pool.connections();
        const auto* mine = find_id(all, id);
        BOOST_TEST_REQUIRE(mine != nullptr);
        BOOST_TEST((mine->use == sqlpool::connection_use::leased));
        BOOST_TEST_REQUIRE(mine->holder.has_value());
        BOOST_TEST((mine->holder->thread == std::this_thread::get_id()));
        BOOST_TEST(mine->holder->where.line() == line);
        BOOST_TEST(sqlpool::describe(*mine).find("slot_entry_test.cpp") != std::string::npos);
    }
    const auto after = pool.connections();
    const auto* returned = find_id(after, id);
    BOOST_TEST_REQUIRE(returned != nullptr);
    BOOST_TEST((returned->use == sqlpool::connection_use::idle));
    BOOST_TEST(returned->info.use_count == 1u);
    BOOST_TEST((returned->info.last_used_at >= returned->info.created_at));
}

// The statement a leased connection runs, shown to another thread while it runs; a stop request
// on its deadline ends it, and the connection shows nothing again.
BOOST_AUTO_TEST_CASE(the_statement_a_leased_connection_runs_is_shown_while_it_runs) {
    sqlpool::pool pool(small_config(path, 1, 1));
    std::stop_source stop;
    std::atomic<int> outcome{0}; // 1: cancelled_error, 2: anything else
    std::thread runner([&] {
        try {
            (void)pool.read(sqlpool::deadline{stop.get_token()}, [](sqlpool::connection& c) {
                return c.query_value<std::int64_t>(endless_query);
            });
            outcome = 2;
        } catch (const sqlpool::cancelled_error&) {
            outcome = 1;
        } catch (...) {
            outcome = 2;
        }
    });
    const bool shown = eventually([&] {
        const auto all = pool.connections();
        return all.size() == 1 && all[0].sql.find("WITH RECURSIVE c(x)") != std::string::npos &&
               all[0].holder.has_value();
    });
    stop.request_stop();
    runner.join();
    BOOST_TEST(shown);
    BOOST_TEST(outcome == 1);
    const auto all = pool.connections();
    BOOST_TEST_REQUIRE(all.size() == 1u);
    BOOST_TEST(all[0].sql.empty());
    BOOST_TEST((all[0].use == sqlpool::connection_use::idle));
}

// Snapshots taken while 8 threads borrow and return: never more connections than max, ids
// unique, every leased one with a holder.
BOOST_AUTO_TEST_CASE(snapshots_stay_consistent_while_threads_borrow_and_return) {
    sqlpool::pool pool(small_config(path, 1, 4));
    pool.write([](sqlpool::connection& c) { c.exec("CREATE TABLE t(v INTEGER)"); });
    std::atomic<bool> stop{false};
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t)
        threads.emplace_back([&] {
            while (!stop.load())
                pool.read([](sqlpool::connection& c) {
                    return c.query_value<std::int64_t>("SELECT count(*) FROM t");
                });
        });
    int bad = 0;
    int snapshots = 0;
    for (; snapshots < 2000; ++snapshots) {
        const auto all = pool.connections();
        std::set<std::uint64_t> ids;
        for (const auto& c : all) {
            if (c.use != sqlpool::connection_use::opening) ids.insert(c.info.id);
            if (c.use == sqlpool::connection_use::leased && !c.holder) ++bad;
        }
        const auto opened = std::ranges::count_if(
            all, [](const auto& c) { return c.use != sqlpool::connection_use::opening; });
        if (all.size() > 4 || ids.size() != static_cast<std::size_t>(opened)) ++bad;
    }
    stop = true;
    for (auto& thread : threads) thread.join();
    BOOST_TEST(bad == 0);
    BOOST_TEST_MESSAGE(snapshots << " snapshots");
}

BOOST_AUTO_TEST_SUITE_END()
