// R5 nested acquire: threads that each need two connections at once. With max_connections at
// least threads + 1 some thread can always finish, so nobody times out and nobody is refused; with
// max_connections == threads all can block holding one each: the one that completes the cycle
// fails at once with nested_acquire_error, the others end with a timeout_error, none hangs.
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <barrier>
#include <chrono>
#include <cstdint>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "reliability/reliability.hpp"
#include "support/scratch_dir.hpp"

import sqlpool;

using namespace std::chrono_literals;
namespace rel = sqlpool_reliability;

namespace {

struct outcome {
    std::uint64_t rounds = 0, successes = 0, timeouts = 0, nested = 0, others = 0, pool_timeouts = 0,
                  in_use_after = 0;
};

// `rounds` rounds per thread; in each, every thread takes its first connection, meets the others
// at a barrier when `lockstep` (so all hold one before anyone asks for a second), then asks for a
// second one with `second_timeout` and gives the second back at once.
outcome run(std::size_t max_connections, bool lockstep, std::uint64_t rounds,
            std::chrono::milliseconds second_timeout) {
    const std::size_t threads = 8;
    sqlpool_test::scratch_dir dir{"r5"};
    sqlpool::pool pool{sqlpool::pool_config{.database = dir.file("r5.db"),
                                            .busy_timeout = 1s,
                                            .min_connections = 1,
                                            .max_connections = max_connections,
                                            .acquire_timeout = 60s,
                                            .background_maintenance = false}};
    std::atomic<std::uint64_t> successes{0}, timeouts{0}, nested{0}, others{0};
    std::barrier sync(static_cast<std::ptrdiff_t>(threads));
    rel::watchdog guard("R5 nested acquire, max " + std::to_string(max_connections),
                        [&] { return "successes=" + std::to_string(successes.load()); });
    std::vector<std::thread> workers;
    for (std::size_t t = 0; t < threads; ++t) {
        workers.emplace_back([&, t] {
            std::mt19937_64 rng(rel::seed() + 5000 + t);
            for (std::uint64_t r = 0; r < rounds; ++r) {
                try {
                    auto first = pool.acquire();
                    if (lockstep) sync.arrive_and_wait();
                    try {
                        auto second = pool.acquire(second_timeout);
                        if (first.info().id == second.info().id) others.fetch_add(1); // same connection twice
                        if (rng() % 2 == 0) std::this_thread::yield();
                        successes.fetch_add(1);
                    } catch (const sqlpool::timeout_error&) {
                        timeouts.fetch_add(1);
                    } catch (const sqlpool::nested_acquire_error&) {
                        nested.fetch_add(1);
                    }
                    // In lockstep the first connection stays held until every thread has had its
                    // answer for the second: a timeout must not free a connection for the others.
                    if (lockstep) sync.arrive_and_wait();
                    first.release();
                    if (lockstep) sync.arrive_and_wait(); // everyone released before the next round
                } catch (...) {
                    others.fetch_add(1);
                }
            }
        });
    }
    for (auto& w : workers) w.join();
    const auto s = pool.stats();
    return outcome{threads * rounds, successes.load(), timeouts.load(), nested.load(),
                   others.load(),    s.timeouts,       s.in_use};
}

std::string describe(const outcome& o) {
    return "rounds=" + std::to_string(o.rounds) + " successes=" + std::to_string(o.successes) +
           " timeouts=" + std::to_string(o.timeouts) + " nested=" + std::to_string(o.nested);
}

} // namespace

BOOST_AUTO_TEST_SUITE(r5_nested_acquire)

BOOST_AUTO_TEST_CASE(one_spare_connection_means_no_timeouts) {
    const auto rounds = rel::scaled(2'000);
    // A generous timeout for the second connection: with 9 connections some thread always gets
    // its second one and finishes, so a timeout here would be a lost wake-up, not bad luck.
    const auto lockstep = run(9, true, rel::scaled(200), 30s);
    const auto free_running = run(9, false, rounds, 30s);
    rel::figures("R5/max9", "lockstep{" + describe(lockstep) + "} free{" + describe(free_running) + "}");
    for (const auto& o : {lockstep, free_running}) {
        BOOST_TEST(o.timeouts == 0u);
        BOOST_TEST(o.nested == 0u); // a holder that does not wait always gives one back
        BOOST_TEST(o.others == 0u);
        BOOST_TEST(o.successes == o.rounds);
        BOOST_TEST(o.pool_timeouts == 0u);
        BOOST_TEST(o.in_use_after == 0u);
    }
}

BOOST_AUTO_TEST_CASE(no_spare_connection_means_timeouts_not_hangs) {
    // In lockstep all 8 hold one connection when they ask for a second: none gets it. The last to
    // ask (when the other 7 still wait) is refused at once; the others time out.
    const auto lockstep = run(8, true, rel::scaled(20), 50ms);
    BOOST_TEST(lockstep.timeouts + lockstep.nested == lockstep.rounds);
    BOOST_TEST(lockstep.nested <= lockstep.rounds / 8); // at most one per round
    BOOST_TEST(lockstep.successes == 0u);
    // Free-running, some rounds deadlock and time out, the others succeed; none hangs.
    const auto free_running = run(8, false, rel::scaled(500), 20ms);
    rel::figures("R5/max8", "lockstep{" + describe(lockstep) + "} free{" + describe(free_running) + "}");
    for (const auto& o : {lockstep, free_running}) {
        BOOST_TEST(o.others == 0u);
        BOOST_TEST(o.successes + o.timeouts + o.nested == o.rounds);
        BOOST_TEST(o.pool_timeouts == o.timeouts);
        BOOST_TEST(o.in_use_after == 0u);
    }
}

BOOST_AUTO_TEST_SUITE_END()
