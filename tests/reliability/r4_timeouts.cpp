// R4 timeouts: waiters on an exhausted pool all time out and none hangs; a released connection
// goes to exactly one waiter; acquires with short timeouts racing releases lose no connection.
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
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

sqlpool::pool_config config_for(const std::string& path, std::size_t size) {
    return sqlpool::pool_config{.database = path,
                                .busy_timeout = 1s,
                                .min_connections = size,
                                .max_connections = size,
                                .acquire_timeout = 60s,
                                .background_maintenance = false};
}

// Polls `done` until it holds (a state the test waits for, never a time it asserts); the
// scenario's watchdog turns a state that never comes into a failure.
template <class F>
void wait_for_state(F&& done) {
    while (!done()) std::this_thread::sleep_for(1ms);
}

template <class Pool>
void racing_acquires_lose_nothing(const char* locking) {
    const std::size_t threads = 16;
    const std::size_t size = 4;
    const std::uint64_t attempts = rel::scaled(100'000);
    sqlpool_test::scratch_dir dir{"r4c"};
    Pool pool{config_for(dir.file("r4c.db"), size)};

    std::atomic<std::uint64_t> next{0}, got{0}, timed_out{0}, nullopts{0}, errors{0}, double_handouts{0};
    std::vector<std::atomic<std::uint32_t>> owner(4096);
    rel::watchdog guard(std::string("R4 racing acquires, ") + locking,
                        [&] { return "attempts=" + std::to_string(next.load()); });
    std::vector<std::thread> workers;
    for (std::size_t t = 0; t < threads; ++t) {
        workers.emplace_back([&, t] {
            const auto me = static_cast<std::uint32_t>(t + 1);
            std::mt19937_64 rng(rel::seed() + 4000 + t);
            while (next.fetch_add(1) < attempts) {
                std::optional<sqlpool::lease> lease;
                const auto timeout = std::chrono::microseconds(rng() % 300);
                try {
                    switch (rng() % 4) {
                    case 0:
                        lease = pool.try_acquire();
                        break;
                    case 1:
                        lease = pool.try_acquire(timeout);
                        break;
                    case 2:
                        lease = pool.acquire(timeout);
                        break;
                    default:
                        lease = pool.acquire(timeout + 1ms);
                        break;
                    }
                } catch (const sqlpool::timeout_error&) {
                    timed_out.fetch_add(1);
                    continue;
                } catch (const sqlpool::error&) {
                    errors.fetch_add(1);
                    continue;
                }
                if (!lease) {
                    nullopts.fetch_add(1);
                    continue;
                }
                got.fetch_add(1);
                const std::uint64_t id = lease->info().id;
                std::uint32_t expected = 0;
                const bool mine = id < owner.size() && owner[id].compare_exchange_strong(expected, me);
                if (!mine) double_handouts.fetch_add(1);
                switch (rng() % 4) {
                case 0:
                    break;
                case 1:
                    std::this_thread::yield();
                    break;
                case 2:
                    (void)(*lease)->query_value<std::int64_t>("SELECT 1");
                    break;
                default:
                    std::this_thread::sleep_for(std::chrono::microseconds(rng() % 100));
                    break;
                }
                if (mine) owner[id].store(0);
                lease->release();
            }
        });
    }
    for (auto& w : workers) w.join();
    const auto s = pool.stats();
    rel::figures(std::string("R4c/") + locking,
                 "attempts=" + std::to_string(attempts) + " acquired=" + std::to_string(got.load()) +
                     " timeout_errors=" + std::to_string(timed_out.load()) + " nullopt=" +
                     std::to_string(nullopts.load()) + " pool_timeouts=" + std::to_string(s.timeouts) +
                     " total=" + std::to_string(s.total) + " idle=" + std::to_string(s.idle));
    BOOST_TEST(errors.load() == 0u);
    BOOST_TEST(double_handouts.load() == 0u);
    BOOST_TEST(got.load() + timed_out.load() + nullopts.load() == attempts);
    BOOST_TEST(s.acquired == got.load());
    BOOST_TEST(s.timeouts == timed_out.load() + nullopts.load());
    BOOST_TEST(timed_out.load() + nullopts.load() > 0u); // the race really happened
    BOOST_TEST(s.in_use == 0u);
    BOOST_TEST(s.waiting == 0u);
    BOOST_TEST(s.idle == s.total);
    BOOST_TEST(s.total == size); // no connection lost
    std::vector<sqlpool::lease> all;
    for (std::size_t i = 0; i < size; ++i) all.push_back(pool.acquire(5s));
    BOOST_TEST(all.size() == size);
}

} // namespace

BOOST_AUTO_TEST_SUITE(r4_timeouts)

BOOST_AUTO_TEST_CASE(every_waiter_on_an_exhausted_pool_times_out) {
    const std::size_t size = 4, waiters = 32;
    sqlpool_test::scratch_dir dir{"r4a"};
    sqlpool::pool pool{config_for(dir.file("r4a.db"), size)};
    std::vector<sqlpool::lease> held;
    for (std::size_t i = 0; i < size; ++i) held.push_back(pool.acquire());

    std::atomic<std::uint64_t> timeouts{0}, successes{0}, others{0}, snapshot_in_use_ok{0};
    {
        rel::watchdog guard("R4 exhausted pool");
        std::vector<std::thread> threads;
        for (std::size_t t = 0; t < waiters; ++t)
            threads.emplace_back([&] {
                try {
                    auto lease = pool.acquire(200ms);
                    successes.fetch_add(1);
                } catch (const sqlpool::timeout_error& e) {
                    timeouts.fetch_add(1);
                    if (e.stats().in_use == size && e.waited() > 0ns) snapshot_in_use_ok.fetch_add(1);
                } catch (...) {
                    others.fetch_add(1);
                }
            });
        for (auto& t : threads) t.join();
    }
    const auto s = pool.stats();
    rel::figures("R4a", "waiters=" + std::to_string(waiters) +
                            " timeout_errors=" + std::to_string(timeouts.load()) +
                            " successes=" + std::to_string(successes.load()));
    BOOST_TEST(timeouts.load() == waiters);
    BOOST_TEST(successes.load() == 0u);
    BOOST_TEST(others.load() == 0u);
    BOOST_TEST(snapshot_in_use_ok.load() == waiters);
    BOOST_TEST(s.timeouts == waiters);
    BOOST_TEST(s.waiting == 0u);
    BOOST_TEST(s.in_use == size);
    held.clear();
    BOOST_TEST(pool.stats().idle == size);
}

BOOST_AUTO_TEST_CASE(each_release_wakes_exactly_one_waiter) {
    const std::size_t size = 4, waiters = 32;
    sqlpool_test::scratch_dir dir{"r4b"};
    sqlpool::pool pool{config_for(dir.file("r4b.db"), size)};
    std::vector<sqlpool::lease> held;
    for (std::size_t i = 0; i < size; ++i) held.push_back(pool.acquire());

    std::atomic<std::uint64_t> successes{0}, closed_errors{0}, others{0};
    std::atomic<bool> finish{false};
    rel::watchdog guard("R4 one release, one waiter",
                        [&] { return "successes=" + std::to_string(successes.load()); });
    std::vector<std::thread> threads;
    for (std::size_t t = 0; t < waiters; ++t)
        threads.emplace_back([&] {
            try {
                auto lease = pool.acquire(120s);
                successes.fetch_add(1);
                wait_for_state([&] { return finish.load(); }); // hold it until the end
            } catch (const sqlpool::pool_closed_error&) {
                closed_errors.fetch_add(1);
            } catch (...) {
                others.fetch_add(1);
            }
        });
    wait_for_state([&] { return pool.stats().waiting == waiters; });

    std::vector<std::uint64_t> waiting_after;
    for (std::size_t k = 1; k <= size; ++k) {
        held.pop_back(); // one connection back
        wait_for_state([&] { return successes.load() >= k; });
        const auto s = pool.stats();
        waiting_after.push_back(s.waiting);
        BOOST_TEST(successes.load() == k);
        BOOST_TEST(s.waiting == waiters - k);
        BOOST_TEST(s.in_use == size);
        BOOST_TEST(s.idle == 0u);
    }
    // The rest learn that the pool closed instead of hanging.
    BOOST_TEST(!pool.close(0ms).complete); // leases are still out
    wait_for_state([&] { return closed_errors.load() + others.load() == waiters - size; });
    finish.store(true);
    for (auto& t : threads) t.join();
    const auto s = pool.stats();
    rel::figures("R4b", "waiters=" + std::to_string(waiters) + " releases=" + std::to_string(size) +
                            " woken=" + std::to_string(successes.load()) + " closed_errors=" +
                            std::to_string(closed_errors.load()) + " total_after=" + std::to_string(s.total));
    BOOST_TEST(successes.load() == size);
    BOOST_TEST(closed_errors.load() == waiters - size);
    BOOST_TEST(others.load() == 0u);
    BOOST_TEST(s.timeouts == 0u);
    BOOST_TEST(s.total == 0u);
    BOOST_TEST(s.in_use == 0u);
    BOOST_TEST(s.closed.shutdown == size);
}

BOOST_AUTO_TEST_CASE(racing_timeouts_lose_no_connection_std_mutex) {
    racing_acquires_lose_nothing<sqlpool::pool>("std_mutex");
}

BOOST_AUTO_TEST_CASE(racing_timeouts_lose_no_connection_spin) {
    racing_acquires_lose_nothing<sqlpool::basic_pool<sqlpool::locking::spin>>("spin");
}

BOOST_AUTO_TEST_SUITE_END()
