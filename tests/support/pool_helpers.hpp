// Shared by the tests of the pool's partitions (pool, pool_open, pool_return, pool_maintenance,
// pool_waiters, pool_slots, pool_core), which all go through the public pool: a small config and a
// fixture with a fresh database path, a WAL file's size, bounded polling, the stats' conservation law, a
// health policy the test switches while the pool runs, and pool types with a manual clock or use-count
// recycling.
//
// It imports sqlpool, so a test file includes it after every other header: in an importer every
// #include comes before `import sqlpool;`.
#pragma once

#include <boost/test/unit_test.hpp>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>

#include "manual_clock.hpp"
#include "temp_dir.hpp"

import sqlpool;

namespace sqlpool_test {

// min to max connections to `path`, a 3 s acquire timeout, and no background maintenance: the
// tests run maintain() themselves.
inline sqlpool::pool_config small_config(const std::string& path, std::size_t min, std::size_t max) {
    using namespace std::chrono_literals;
    return sqlpool::pool_config{.database = path,
                                .min_connections = min,
                                .max_connections = max,
                                .acquire_timeout = 3s,
                                .background_maintenance = false};
}

// A pool that manages checkpoints with small limits (64 KiB soft, a 256 KiB cap) and rounds
// every 20 ms, for the checkpointer and reader gate tests.
inline sqlpool::pool_config small_wal_config(const std::string& path, std::chrono::milliseconds reader_gap) {
    using namespace std::chrono_literals;
    return sqlpool::pool_config{.database = path,
                                .max_connections = 6,
                                .maintenance_interval = 20ms,
                                .wal_soft_limit = 64 * 1024,
                                .wal_hard_limit = 256 * 1024,
                                .reader_gap = reader_gap};
}

// The size of the WAL file of the database at `path`, 0 when there is none.
inline std::uint64_t wal_size(const std::string& path) {
    std::error_code ec;
    const auto size = std::filesystem::file_size(path + "-wal", ec);
    return ec ? 0 : static_cast<std::uint64_t>(size);
}

// A fresh directory and a database path in it, for each test case.
struct pool_fixture {
    temp_dir dir{"pool"};
    std::string path = dir.file("pool.db");
};

// Polls `done` until it holds, for at most `limit`: every wait on another thread is bounded.
template <class Predicate>
bool eventually(Predicate done, std::chrono::milliseconds limit = std::chrono::seconds(20)) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!done()) {
        if (std::chrono::steady_clock::now() >= deadline) return false;
        std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    return true;
}

// Every connection the pool opened is either still open or was closed for a counted reason.
inline void check_conservation(const sqlpool::pool_stats& s) {
    BOOST_TEST(s.created == s.total + s.closed.total());
    BOOST_TEST(s.idle + s.in_use == s.total);
}

// Health state a test flips while the pool runs; the pool's copy of the policy shares it.
struct health_state {
    std::atomic<std::uint64_t> failing_id{0}; // 0: none
    std::atomic<bool> fail_all{false};
    std::atomic<bool> throw_instead{false};
    std::atomic<int> checkout_checks{0};
    std::atomic<int> return_checks{0};
    std::atomic<int> periodic_checks{0};
};

template <sqlpool::check_point When>
struct switchable_health {
    static constexpr sqlpool::check_point when = When;
    std::shared_ptr<health_state> state = std::make_shared<health_state>();

    sqlpool::health_status check(sqlpool::connection&, const sqlpool::connection_info& info,
                                 sqlpool::check_point point) const {
        switch (point) {
        case sqlpool::check_point::on_checkout:
            ++state->checkout_checks;
            break;
        case sqlpool::check_point::on_return:
            ++state->return_checks;
            break;
        case sqlpool::check_point::periodic:
            ++state->periodic_checks;
            break;
        case sqlpool::check_point::none:
            break;
        }
        if (state->throw_instead) throw std::runtime_error("health check threw");
        return state->fail_all || info.id == state->failing_id ? sqlpool::health_status::unhealthy
                                                               : sqlpool::health_status::healthy;
    }
};

using checkout_health = switchable_health<sqlpool::check_point::on_checkout>;
using return_health = switchable_health<sqlpool::check_point::on_return>;
using periodic_health = switchable_health<sqlpool::check_point::periodic>;

// A pool whose clock the test moves (see manual_clock.hpp).
template <class Health = sqlpool::health::no_check, class Recycling = sqlpool::recycling::standard>
using clocked_pool = sqlpool::basic_pool<sqlpool::locking::std_mutex, Health, Recycling,
                                         sqlpool::isolation::deferred, sqlpool::queue::barging, manual_clock>;

// A pool whose connections retire after N leases.
template <std::uint64_t N>
using uses_pool = sqlpool::basic_pool<sqlpool::locking::std_mutex, sqlpool::health::no_check,
                                      sqlpool::recycling::max_uses<N>>;

} // namespace sqlpool_test
