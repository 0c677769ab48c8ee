// Every stock policy (locking, health, recycling, isolation, queue) in a real pool.
#define BOOST_TEST_MODULE policies_matrix
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <barrier>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <ios>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <type_traits>
#include <vector>

#include "support/manual_clock.hpp"
#include "support/scratch_dir.hpp"

import sqlpool;

using namespace std::chrono_literals;

// ---------------------------------------------------------------------------------------------
// Every stock policy in a real pool. Each pool type below runs through the same scenario, one test
// case per step: a file database in a scratch directory (rollback journal, so that the three BEGIN
// modes lock differently: https://sqlite.org/lang_transaction.html), concurrent leases,
// write()/read() round trips, the isolation policy's levels proven from another connection,
// recycling driven by a manual clock, health checks against a corrupted and a replaced file, and
// close(). What each step expects follows from the pool's policies (the promises below), so a
// policy that does not do what it promises fails the step in every pool that uses it.

namespace matrix {

namespace lk = sqlpool::locking;
namespace hp = sqlpool::health;
namespace rp = sqlpool::recycling;
namespace ip = sqlpool::isolation;
using sqlpool::check_point;

namespace qp = sqlpool::queue;

template <class Locking, class Health, class Recycling, class Isolation, class Queue = qp::barging>
using clocked = sqlpool::basic_pool<Locking, Health, Recycling, Isolation, Queue, sqlpool_test::manual_clock>;

// Each locking, health, recycling, isolation and queue policy appears in at least one pool.
using pools = std::tuple<clocked<lk::std_mutex, hp::ping, rp::standard, ip::deferred>,
                         clocked<lk::spin, hp::file_identity, rp::max_age, ip::immediate, qp::round_robin>,
                         clocked<lk::std_mutex, hp::quick_check, rp::max_uses<2>, ip::exclusive, qp::fifo>,
                         clocked<lk::single_thread, hp::no_check, rp::idle_timeout, ip::immediate>,
                         clocked<lk::std_mutex, hp::all_of<hp::file_identity, hp::quick_check>,
                                 rp::any_of<rp::max_uses<4>, rp::idle_timeout>, ip::deferred>,
                         clocked<lk::spin, hp::all_of<hp::ping, hp::no_check>, rp::never, ip::exclusive>,
                         clocked<lk::spin, hp::ping, rp::max_uses<>, ip::deferred, qp::fifo>>;

// What a health policy promises to notice, and at which check points: the database file replaced
// under the connection (renamed over), or its pages corrupted in place.
struct health_promise {
    check_point replaced = check_point::none;
    check_point corrupted = check_point::none;
};
constexpr health_promise promised(std::type_identity<hp::ping>) {
    return {.replaced = check_point::on_checkout | check_point::periodic};
}
constexpr health_promise promised(std::type_identity<hp::file_identity>) {
    return {.replaced = check_point::on_checkout | check_point::periodic};
}
constexpr health_promise promised(std::type_identity<hp::quick_check>) {
    return {.corrupted = check_point::periodic};
}
constexpr health_promise promised(std::type_identity<hp::no_check>) {
    return {};
}
template <class... Parts>
constexpr health_promise promised(std::type_identity<hp::all_of<Parts...>>) {
    return {.replaced = (check_point::none | ... | promised(std::type_identity<Parts>{}).replaced),
            .corrupted = (check_point::none | ... | promised(std::type_identity<Parts>{}).corrupted)};
}

// What a recycling policy promises to retire: aged connections, idle ones above min_connections,
// and connections after `uses` leases (0: never for uses).
struct recycling_promise {
    bool aged = false;
    bool idle = false;
    std::uint64_t uses = 0;
};
constexpr recycling_promise promised(std::type_identity<rp::max_age>, std::uint64_t) {
    return {.aged = true};
}
template <std::uint64_t Limit>
constexpr recycling_promise promised(std::type_identity<rp::max_uses<Limit>>, std::uint64_t config_max_uses) {
    return {.uses = Limit != 0 ? Limit : config_max_uses};
}
constexpr recycling_promise promised(std::type_identity<rp::idle_timeout>, std::uint64_t) {
    return {.idle = true};
}
constexpr recycling_promise promised(std::type_identity<rp::never>, std::uint64_t) {
    return {};
}
constexpr recycling_promise either(recycling_promise a, recycling_promise b) {
    const std::uint64_t uses = a.uses == 0 ? b.uses : (b.uses == 0 ? a.uses : std::min(a.uses, b.uses));
    return {.aged = a.aged || b.aged, .idle = a.idle || b.idle, .uses = uses};
}
template <class... Parts>
constexpr recycling_promise promised(std::type_identity<rp::any_of<Parts...>>,
                                     std::uint64_t config_max_uses) {
    recycling_promise all;
    ((all = either(all, promised(std::type_identity<Parts>{}, config_max_uses))), ...);
    return all;
}

template <class Pool>
constexpr health_promise health_of = promised(std::type_identity<typename Pool::health_type>{});
template <class Pool>
recycling_promise recycling_of(const sqlpool::pool_config& config) {
    return promised(std::type_identity<typename Pool::recycling_type>{}, config.max_uses);
}

// Counts failed health checks by check point.
struct health_counter final : sqlpool::pool_listener {
    std::atomic<int> on_checkout{0};
    std::atomic<int> periodic{0};
    void on_health_check_failed(const sqlpool::connection_info&, check_point point) override {
        if (point == check_point::on_checkout) ++on_checkout;
        if (point == check_point::periodic) ++periodic;
    }
};

// A scratch directory, a database file in it with table t, and the pool's configuration.
struct setup {
    sqlpool_test::scratch_dir dir{"matrix"};
    std::string path = dir.file("m.db");
    sqlpool_test::manual_clock clock;
    std::shared_ptr<health_counter> failures = std::make_shared<health_counter>();
    sqlpool::pool_config config{.database = path,
                                .journal = sqlpool::journal_mode::delete_journal,
                                .synchronous = sqlpool::synchronous_mode::off,
                                .min_connections = 1,
                                .max_connections = 4,
                                .acquire_timeout = 60s,
                                .connection_max_age = 1h,
                                .idle_timeout = 10min,
                                .health_check_interval = 30s,
                                .max_uses = 3,
                                .background_maintenance = false,
                                .listener = failures};

    template <class Pool>
    std::unique_ptr<Pool> open() {
        auto pool = std::make_unique<Pool>(config, typename Pool::health_type{},
                                           typename Pool::recycling_type{}, clock);
        pool->write([](sqlpool::connection& c) { c.exec("CREATE TABLE IF NOT EXISTS t(v INTEGER)"); });
        return pool;
    }
};

// A connection outside the pool that never waits for a lock.
sqlpool::connection probe(const std::string& path) {
    return sqlpool::connection{sqlpool::open_options{
        .path = path, .busy_timeout = 0ms, .journal = sqlpool::journal_mode::delete_journal}};
}
bool write_lock_free(sqlpool::connection& other) {
    try {
        other.exec("BEGIN IMMEDIATE");
    } catch (const sqlpool::busy_error&) {
        if (other.in_transaction()) other.exec("ROLLBACK");
        return false;
    }
    other.exec("ROLLBACK");
    return true;
}
bool readable(sqlpool::connection& other) {
    try {
        (void)other.query_value<std::int64_t>("SELECT count(*) FROM t");
    } catch (const sqlpool::busy_error&) {
        return false;
    }
    return true;
}

// Overwrites the start of `page` with bytes no b-tree page starts with, and bumps the file change
// counter so that every connection drops its page cache (https://sqlite.org/fileformat.html).
void corrupt_page(const std::string& path, std::int64_t page) {
    std::fstream file(path, std::ios::in | std::ios::out | std::ios::binary);
    std::array<unsigned char, 100> header{};
    file.read(reinterpret_cast<char*>(header.data()), header.size());
    const std::int64_t raw_size = (header[16] << 8) | header[17];
    const std::int64_t page_size = raw_size == 1 ? 65536 : raw_size;
    const std::array<char, 16> garbage{'\xff', '\xff', '\xff', '\xff', '\xff', '\xff', '\xff', '\xff',
                                       '\xff', '\xff', '\xff', '\xff', '\xff', '\xff', '\xff', '\xff'};
    file.seekp((page - 1) * page_size);
    file.write(garbage.data(), garbage.size());
    ++header[27]; // the low byte of the big-endian change counter at offset 24
    file.seekp(24);
    file.write(reinterpret_cast<const char*>(&header[24]), 4);
    BOOST_TEST_REQUIRE(file.good());
}

// Renames a fresh database (with table `restored`) over `path`, the way a restore would.
void replace_file(const sqlpool_test::scratch_dir& dir, const std::string& path) {
    const auto replacement = dir.file("replacement.db");
    {
        sqlpool::connection fresh{
            sqlpool::open_options{.path = replacement, .journal = sqlpool::journal_mode::delete_journal}};
        fresh.exec("CREATE TABLE restored(v)");
    }
    std::filesystem::rename(replacement, path);
}

} // namespace matrix

BOOST_FIXTURE_TEST_SUITE(stock_policies_in_a_pool, matrix::setup)

BOOST_AUTO_TEST_CASE_TEMPLATE(leases_are_exclusive_across_threads, Pool, matrix::pools) {
    auto pool = open<Pool>();
    // Three threads each hold a lease at the same moment.
    constexpr std::size_t holders = sqlpool::locking_traits<typename Pool::locking_type>::concurrent ? 3 : 1;
    constexpr int rounds = 20;
    std::barrier all_holding(static_cast<std::ptrdiff_t>(holders));
    std::mutex ids_mutex;
    std::set<std::uint64_t> ids_held_together;
    std::atomic<int> lost_writes{0};
    const auto work = [&](std::size_t me) {
        for (int i = 0; i < rounds; ++i) {
            const auto value = static_cast<std::int64_t>(me * 1000 + static_cast<std::size_t>(i));
            pool->write([&](sqlpool::connection& c) { c.exec("INSERT INTO t(v) VALUES(?)", value); });
            auto lease = pool->acquire();
            if (lease->template query_value<std::int64_t>("SELECT count(*) FROM t WHERE v = ?", value) != 1)
                ++lost_writes; // Boost.Test's assertions are for the main thread only
            if (i == 0) {
                {
                    std::lock_guard lock(ids_mutex);
                    ids_held_together.insert(lease.info().id);
                }
                all_holding.arrive_and_wait(); // nobody releases before all hold one
            }
        }
    };
    std::vector<std::thread> threads;
    for (std::size_t t = 1; t < holders; ++t) threads.emplace_back(work, t);
    work(0);
    for (auto& t : threads) t.join();
    BOOST_TEST(ids_held_together.size() == holders); // distinct connections, held together
    BOOST_TEST(lost_writes == 0);
    const auto rows = pool->read(
        [](sqlpool::connection& c) { return c.query_value<std::int64_t>("SELECT count(*) FROM t"); });
    BOOST_TEST(rows == static_cast<std::int64_t>(holders) * rounds);
    const auto s = pool->stats();
    BOOST_TEST(s.in_use == 0u);
    BOOST_TEST(s.total <= s.max_connections);
}

BOOST_AUTO_TEST_CASE_TEMPLATE(write_and_read_round_trip, Pool, matrix::pools) {
    auto pool = open<Pool>();
    pool->write([](sqlpool::connection& c) { c.exec("INSERT INTO t(v) VALUES(?), (?)", 40, 2); });
    const auto sum = pool->read(
        [](sqlpool::connection& c) { return c.query_value<std::int64_t>("SELECT sum(v) FROM t"); });
    BOOST_TEST(sum == 42);
    BOOST_TEST(pool->stats().transactions.committed == 3u); // CREATE TABLE, the insert, the sum
    // read() is a transaction: fn sees one snapshot, inside BEGIN.
    BOOST_TEST(pool->read([](sqlpool::connection& c) { return c.in_transaction(); }));
}

BOOST_AUTO_TEST_CASE_TEMPLATE(begin_without_a_level_uses_the_isolation_policy_default, Pool, matrix::pools) {
    auto pool = open<Pool>();
    constexpr auto level = Pool::isolation_type::default_level;
    auto other = matrix::probe(path); // opened first: opening reads the schema
    auto lease = pool->acquire();
    BOOST_TEST((lease->default_isolation() == level));
    auto tx = lease->begin();
    BOOST_TEST((tx.level() == level));
    // DEFERRED takes no lock yet; IMMEDIATE takes the write lock; EXCLUSIVE keeps readers out too.
    BOOST_TEST(matrix::write_lock_free(other) == (level == sqlpool::isolation_level::deferred));
    BOOST_TEST(matrix::readable(other) == (level != sqlpool::isolation_level::exclusive));
    tx.rollback();
    BOOST_TEST(matrix::write_lock_free(other));
    BOOST_TEST(matrix::readable(other));
}

BOOST_AUTO_TEST_CASE_TEMPLATE(write_uses_the_isolation_policy_write_level, Pool, matrix::pools) {
    auto pool = open<Pool>();
    constexpr auto level = Pool::isolation_type::write_level;
    auto other = matrix::probe(path);
    bool write_lock_free = true;
    bool readable = false;
    pool->write([&](sqlpool::connection& c) {
        c.exec("INSERT INTO t(v) VALUES(1)");
        write_lock_free = matrix::write_lock_free(other);
        readable = matrix::readable(other);
    });
    BOOST_TEST(!write_lock_free);
    BOOST_TEST(readable == (level != sqlpool::isolation_level::exclusive));
    BOOST_TEST(matrix::readable(other));
}

BOOST_AUTO_TEST_CASE_TEMPLATE(recycling_retires_after_the_promised_number_of_uses, Pool, matrix::pools) {
    auto pool = open<Pool>();
    const auto promise = matrix::recycling_of<Pool>(config);
    const auto before = pool->stats().closed.uses;
    constexpr std::uint64_t leases = 12;
    std::uint64_t earlier_uses = 0; // of the connection the first lease gets (CREATE TABLE ran on it)
    for (std::uint64_t i = 0; i < leases; ++i) {
        auto lease = pool->acquire(); // the one idle connection, or the one that replaced it
        if (i == 0) earlier_uses = lease.info().use_count;
    }
    const auto retired = pool->stats().closed.uses - before;
    BOOST_TEST(retired == (promise.uses == 0 ? 0u : (earlier_uses + leases) / promise.uses));
}

BOOST_AUTO_TEST_CASE_TEMPLATE(maintain_retires_idle_connections_above_the_minimum, Pool, matrix::pools) {
    auto pool = open<Pool>();
    {
        auto first = pool->acquire();
        auto second = pool->acquire(); // two connections where min_connections is one
    }
    const auto before = pool->stats();
    clock.advance(config.idle_timeout);
    pool->maintain();
    const auto after = pool->stats();
    // The pool keeps its min_connections of one.
    const std::size_t above_minimum = before.idle - 1;
    BOOST_TEST(after.closed.idle - before.closed.idle ==
               (matrix::recycling_of<Pool>(config).idle ? above_minimum : 0u));
    BOOST_TEST(after.closed.aged == before.closed.aged);
    BOOST_TEST(after.total == before.total - (after.closed.idle - before.closed.idle));
}

BOOST_AUTO_TEST_CASE_TEMPLATE(maintain_retires_aged_connections_and_replenishes, Pool, matrix::pools) {
    auto pool = open<Pool>();
    const auto before = pool->stats();
    clock.advance(config.connection_max_age);
    pool->maintain();
    const auto after = pool->stats();
    // Every connection is idle and at the minimum: only age retires it, and the pool reopens one.
    BOOST_TEST(after.closed.aged - before.closed.aged ==
               (matrix::recycling_of<Pool>(config).aged ? before.total : 0u));
    BOOST_TEST(after.closed.idle == before.closed.idle);
    BOOST_TEST(after.total == before.total);
    BOOST_TEST(after.created - before.created == after.closed.aged - before.closed.aged);
}

BOOST_AUTO_TEST_CASE_TEMPLATE(periodic_check_fails_on_a_corrupted_page, Pool, matrix::pools) {
    auto pool = open<Pool>();
    pool->write([](sqlpool::connection& c) { c.exec("INSERT INTO t(v) VALUES(1), (2), (3)"); });
    const auto root = pool->read([](sqlpool::connection& c) {
        return c.query_value<std::int64_t>("SELECT rootpage FROM sqlite_schema WHERE name = 't'");
    });
    const auto before = pool->stats();
    matrix::corrupt_page(path, root);
    clock.advance(config.health_check_interval);
    pool->maintain();
    const bool notices = sqlpool::includes(matrix::health_of<Pool>.corrupted, sqlpool::check_point::periodic);
    BOOST_TEST(pool->stats().failed_health_checks - before.failed_health_checks ==
               (notices ? before.idle : 0u));
    BOOST_TEST(failures->periodic == static_cast<int>(notices ? before.idle : 0u));
}

BOOST_AUTO_TEST_CASE_TEMPLATE(periodic_check_fails_on_a_replaced_file, Pool, matrix::pools) {
    auto pool = open<Pool>();
    const auto before = pool->stats();
    matrix::replace_file(dir, path);
    clock.advance(config.health_check_interval);
    pool->maintain();
    const bool notices = sqlpool::includes(matrix::health_of<Pool>.replaced, sqlpool::check_point::periodic);
    BOOST_TEST(pool->stats().failed_health_checks - before.failed_health_checks ==
               (notices ? before.idle : 0u));
    BOOST_TEST(failures->periodic == static_cast<int>(notices ? before.idle : 0u));
}

BOOST_AUTO_TEST_CASE_TEMPLATE(checkout_check_hands_out_a_connection_to_the_replacing_file, Pool,
                              matrix::pools) {
    auto pool = open<Pool>();
    matrix::replace_file(dir, path);
    clock.advance(1s); // past ping's checkout_bypass, short of the periodic interval
    auto lease = pool->acquire();
    const bool notices =
        sqlpool::includes(matrix::health_of<Pool>.replaced, sqlpool::check_point::on_checkout);
    BOOST_TEST(failures->on_checkout == (notices ? 1 : 0));
    // A connection that noticed was replaced by one opened on the file now at the path.
    BOOST_TEST(lease->template query_value<std::int64_t>(
                   "SELECT count(*) FROM sqlite_schema WHERE name = 'restored'") == (notices ? 1 : 0));
}

BOOST_AUTO_TEST_CASE_TEMPLATE(close_refuses_acquires_and_closes_every_connection, Pool, matrix::pools) {
    auto pool = open<Pool>();
    auto held = pool->acquire();
    (void)pool->acquire();                  // a second connection, idle again
    BOOST_TEST(!pool->close(0ms).complete); // one connection is still leased
    BOOST_TEST(pool->closed());
    BOOST_TEST(pool->stats().total == 1u); // the idle ones closed at once
    BOOST_CHECK_THROW((void)pool->acquire(), sqlpool::pool_closed_error);
    held.release(); // closes instead of going back
    const auto s = pool->stats();
    BOOST_TEST(s.total == 0u);
    BOOST_TEST(s.in_use == 0u);
    BOOST_TEST(s.closed.shutdown == s.created);
    BOOST_TEST(pool->close(0ms).complete);
}

BOOST_AUTO_TEST_SUITE_END()
