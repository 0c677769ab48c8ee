// R1 exclusive use: many threads acquire and release as fast as they can, holding for random
// spans; no connection is ever leased to two borrowers at once, the pool never exceeds
// max_connections, and every operation is counted exactly.
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
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

constexpr std::size_t max_ids = 1 << 16; // connection ids a run may reach (retirements add ids)

void atomic_max(std::atomic<std::uint64_t>& into, std::uint64_t value) {
    std::uint64_t seen = into.load();
    while (seen < value && !into.compare_exchange_weak(seen, value)) {
    }
}

} // namespace

BOOST_AUTO_TEST_SUITE(r1_exclusive_use)

BOOST_AUTO_TEST_CASE(no_double_handout_under_churn) {
    const std::size_t threads = 32;
    const std::uint64_t per_thread = rel::scaled(10'000);
    const std::size_t max_connections = 8;

    sqlpool_test::scratch_dir dir{"r1"};
    // Connections age out after ~100 ms (jittered), so retirements and re-opens race the
    // borrowers too; maintenance runs on a thread of the test's own so it can be stopped before
    // the final counts (the pool's own maintenance thread may hold a connection for a check).
    sqlpool::pool pool{sqlpool::pool_config{.database = dir.file("r1.db"),
                                            .busy_timeout = 1s,
                                            .min_connections = 2,
                                            .max_connections = max_connections,
                                            .acquire_timeout = 120s,
                                            .connection_max_age = 100ms,
                                            .max_age_jitter = 0.5,
                                            .health_check_interval = 5ms,
                                            .background_maintenance = false}};

    std::vector<std::atomic<std::uint32_t>> owner(max_ids); // 0 = free, else thread index + 1
    std::atomic<std::uint64_t> operations{0}, double_handouts{0}, stolen{0}, id_overflow{0}, wrong_answers{0};
    std::atomic<std::uint64_t> holding{0}, max_holding{0}, over_max{0};
    std::atomic<std::uint64_t> samples{0}, sample_violations{0}, maintenance_rounds{0};
    std::atomic<bool> stop{false};

    rel::watchdog guard("R1 exclusive use", [&] {
        return "operations=" + std::to_string(operations.load()) +
               " holding=" + std::to_string(holding.load());
    });

    std::thread sampler([&] {
        while (!stop.load()) {
            const auto s = pool.stats();
            const bool ok = s.in_use <= max_connections && s.total <= max_connections &&
                            s.idle + s.in_use == s.total && s.waiting <= threads;
            if (!ok) sample_violations.fetch_add(1);
            samples.fetch_add(1);
            std::this_thread::yield();
        }
    });
    std::thread maintainer([&] {
        while (!stop.load()) {
            pool.maintain();
            maintenance_rounds.fetch_add(1);
            std::this_thread::sleep_for(1ms);
        }
    });

    std::vector<std::thread> workers;
    for (std::size_t t = 0; t < threads; ++t) {
        workers.emplace_back([&, t] {
            const auto me = static_cast<std::uint32_t>(t + 1);
            std::mt19937_64 rng(rel::seed() + t);
            for (std::uint64_t i = 0; i < per_thread; ++i) {
                sqlpool::lease lease = pool.acquire();
                const std::uint64_t id = lease.info().id;
                if (id >= max_ids) {
                    id_overflow.fetch_add(1);
                    continue;
                }
                std::uint32_t expected = 0;
                if (!owner[id].compare_exchange_strong(expected, me)) double_handouts.fetch_add(1);
                const std::uint64_t now_holding = holding.fetch_add(1) + 1;
                atomic_max(max_holding, now_holding);
                if (now_holding > max_connections) over_max.fetch_add(1);

                switch (rng() % 8) {
                case 0:
                case 1:
                    break; // release at once
                case 2:
                case 3:
                    std::this_thread::yield();
                    break;
                case 4:
                case 5: { // use the connection: another borrower on it would corrupt this answer
                    const auto value = static_cast<std::int64_t>(rng() % 1'000'000);
                    if (lease->query_value<std::int64_t>("SELECT ?1 + 1", value) != value + 1)
                        wrong_answers.fetch_add(1);
                    break;
                }
                case 6:
                    for (auto k = rng() % 8; k > 0; --k) std::this_thread::yield();
                    break;
                default:
                    std::this_thread::sleep_for(std::chrono::microseconds(rng() % 200));
                    break;
                }

                holding.fetch_sub(1);
                expected = me;
                if (!owner[id].compare_exchange_strong(expected, 0)) stolen.fetch_add(1);
                lease.release();
                operations.fetch_add(1);
            }
        });
    }
    for (auto& w : workers) w.join();
    stop.store(true);
    sampler.join();
    maintainer.join();

    const auto s = pool.stats();
    const std::uint64_t expected_operations = threads * per_thread;
    rel::figures(
        "R1", "threads=" + std::to_string(threads) + " operations=" + std::to_string(operations.load()) +
                  " double_handouts=" + std::to_string(double_handouts.load()) + " max_holding=" +
                  std::to_string(max_holding.load()) + " samples=" + std::to_string(samples.load()) +
                  " sample_violations=" + std::to_string(sample_violations.load()) +
                  " created=" + std::to_string(s.created) + " retired_aged=" + std::to_string(s.closed.aged) +
                  " maintenance_rounds=" + std::to_string(maintenance_rounds.load()) +
                  " timeouts=" + std::to_string(s.timeouts));

    BOOST_TEST(double_handouts.load() == 0u);
    BOOST_TEST(stolen.load() == 0u);
    BOOST_TEST(wrong_answers.load() == 0u);
    BOOST_TEST(id_overflow.load() == 0u);
    BOOST_TEST(over_max.load() == 0u);
    BOOST_TEST(max_holding.load() <= max_connections);
    BOOST_TEST(sample_violations.load() == 0u);
    BOOST_TEST(samples.load() > 0u);
    BOOST_TEST(operations.load() == expected_operations);
    BOOST_TEST(s.acquired == expected_operations);
    BOOST_TEST(s.timeouts == 0u);
    BOOST_TEST(s.in_use == 0u);
    BOOST_TEST(s.waiting == 0u);
    BOOST_TEST(s.idle == s.total);
    BOOST_TEST(s.total <= max_connections);
    BOOST_TEST(s.created - s.closed.total() == s.total);
    for (std::size_t id = 0; id < max_ids; ++id)
        if (owner[id].load() != 0) BOOST_ERROR("connection " << id << " still owned at the end");
}

BOOST_AUTO_TEST_SUITE_END()
