// pool_controls: the operator's controls — suspend() holds new acquires (and only those) until
// resume(), soft_evict() retires every connection without making anyone wait for the old ones, and
// both are reported to the listener and in the stats, on a pool, a read_write_pool and the
// service. The partition is internal; these tests go through the public API with real threads.
#define BOOST_TEST_MODULE pool_controls
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "support/pool_helpers.hpp"
#include "support/thrown.hpp"

import sqlpool;

using namespace std::chrono_literals;

namespace {

using sqlpool_test::eventually;
using sqlpool_test::pool_fixture;
using sqlpool_test::small_config;
using sqlpool_test::thrown;

struct control_events : sqlpool::pool_listener {
    std::atomic<int> suspends{0};
    std::atomic<int> resumes{0};
    std::atomic<int> evictions{0};
    std::atomic<std::size_t> evicted_now{0};
    void on_suspend() override { ++suspends; }
    void on_resume() override { ++resumes; }
    void on_evict(std::size_t idle_closed) override {
        ++evictions;
        evicted_now += idle_closed;
    }
};

// A thread that takes a lease (waiting up to `timeout`), runs a query on it and returns it.
class borrower {
public:
    template <class Pool>
    borrower(Pool& pool, std::chrono::milliseconds timeout)
        : thread_([this, &pool, timeout] {
              try {
                  auto lease = pool.acquire(timeout);
                  got_ = lease->template query_value<std::int64_t>("SELECT 1") == 1;
              } catch (const sqlpool::timeout_error&) {
                  timed_out_ = true;
              }
              done_ = true;
          }) {}
    borrower(const borrower&) = delete;
    borrower& operator=(const borrower&) = delete;
    ~borrower() { thread_.join(); }
    [[nodiscard]] bool done() const { return done_.load(); }
    [[nodiscard]] bool got() const { return got_.load(); }
    [[nodiscard]] bool timed_out() const { return timed_out_.load(); }

private:
    std::atomic<bool> got_{false};
    std::atomic<bool> timed_out_{false};
    std::atomic<bool> done_{false};
    std::thread thread_;
};

} // namespace

BOOST_FIXTURE_TEST_CASE(a_suspended_pool_holds_new_acquires_until_resume, pool_fixture) {
    auto events = std::make_shared<control_events>();
    auto config = small_config(path, 2, 2);
    config.listener = events;
    sqlpool::pool pool(config);
    BOOST_TEST(pool.suspend());
    BOOST_TEST(!pool.suspend()); // already suspended
    BOOST_TEST(pool.suspended());
    BOOST_TEST(pool.stats().suspended == 1u);
    {
        const borrower waiting(pool, 20s);
        BOOST_TEST(eventually([&] { return pool.stats().waiting == 1; }));
        BOOST_TEST(!waiting.done()); // two idle connections, and still it waits
        BOOST_TEST(pool.resume());
        BOOST_TEST(eventually([&] { return waiting.done(); }));
        BOOST_TEST(waiting.got());
    }
    BOOST_TEST(!pool.resume());
    BOOST_TEST(pool.stats().suspended == 0u);
    BOOST_TEST(events->suspends.load() == 1);
    BOOST_TEST(events->resumes.load() == 1);
}

BOOST_FIXTURE_TEST_CASE(an_acquire_that_times_out_while_suspended_says_why, pool_fixture) {
    sqlpool::pool pool(small_config(path, 1, 1));
    (void)pool.suspend();
    const auto error = thrown<sqlpool::timeout_error>([&] { (void)pool.acquire(30ms); });
    BOOST_REQUIRE(error.has_value());
    BOOST_TEST(std::string(error->what()).find("suspended") != std::string::npos);
    BOOST_TEST(!pool.try_acquire(0ms).has_value());
}

BOOST_FIXTURE_TEST_CASE(leases_taken_before_suspend_stay_valid_and_come_back, pool_fixture) {
    sqlpool::pool pool(small_config(path, 1, 2));
    auto lease = pool.acquire();
    (void)pool.suspend();
    lease->exec("CREATE TABLE t(x)");
    lease->exec("INSERT INTO t VALUES (1)");
    lease = {};
    BOOST_TEST(pool.stats().in_use == 0u);
    (void)pool.resume();
    BOOST_TEST(pool.acquire()->query_value<std::int64_t>("SELECT count(*) FROM t") == 1);
}

BOOST_FIXTURE_TEST_CASE(resume_wakes_every_waiter_under_strict_fifo, pool_fixture) {
    using fifo_pool =
        sqlpool::basic_pool<sqlpool::locking::std_mutex, sqlpool::health::ping, sqlpool::recycling::standard,
                            sqlpool::isolation::deferred, sqlpool::queue::fifo>;
    fifo_pool pool(small_config(path, 0, 2));
    (void)pool.suspend();
    {
        std::vector<std::unique_ptr<borrower>> waiting;
        for (int i = 0; i < 6; ++i) waiting.push_back(std::make_unique<borrower>(pool, 20s));
        BOOST_TEST(eventually([&] { return pool.stats().waiting == 6; }));
        // A return while suspended is not handed to a waiter.
        (void)pool.resume();
        BOOST_TEST(eventually([&] {
            for (const auto& b : waiting)
                if (!b->done()) return false;
            return true;
        }));
        for (const auto& b : waiting) BOOST_TEST(b->got());
    }
    sqlpool_test::check_conservation(pool.stats());
}

BOOST_FIXTURE_TEST_CASE(a_return_while_suspended_goes_idle_not_to_a_waiter, pool_fixture) {
    using fifo_pool =
        sqlpool::basic_pool<sqlpool::locking::std_mutex, sqlpool::health::ping, sqlpool::recycling::standard,
                            sqlpool::isolation::deferred, sqlpool::queue::fifo>;
    fifo_pool pool(small_config(path, 1, 1));
    auto lease = pool.acquire();
    const borrower waiting(pool, 20s);
    BOOST_TEST(eventually([&] { return pool.stats().waiting == 1; }));
    (void)pool.suspend();
    lease = {};
    BOOST_TEST(eventually([&] { return pool.stats().idle == 1; }));
    BOOST_TEST(!waiting.done());
    (void)pool.resume();
    BOOST_TEST(eventually([&] { return waiting.done(); }));
    BOOST_TEST(waiting.got());
}

BOOST_FIXTURE_TEST_CASE(soft_evict_closes_idle_connections_now_and_leased_ones_on_return, pool_fixture) {
    auto events = std::make_shared<control_events>();
    auto config = small_config(path, 3, 4);
    config.listener = events;
    sqlpool::pool pool(config);
    auto held = pool.acquire();
    const std::uint64_t held_id = pool.stats().created; // any: ids are checked below by set
    (void)held_id;
    BOOST_TEST(pool.soft_evict() == 2u);
    BOOST_TEST(pool.stats().closed.evicted == 2u);
    BOOST_TEST(events->evictions.load() == 1);
    BOOST_TEST(events->evicted_now.load() == 2u);
    // New acquires open new connections at once, while the evicted lease is still out.
    auto fresh = pool.try_acquire(0ms);
    BOOST_REQUIRE(fresh.has_value());
    BOOST_TEST(pool.stats().created == 4u);
    held->exec("CREATE TABLE t(x)"); // the evicted lease still works
    held = {};
    BOOST_TEST(pool.stats().closed.evicted == 3u);
    fresh.reset();
    BOOST_TEST(pool.stats().closed.evicted == 3u); // the new one stays
    BOOST_TEST(pool.stats().idle == 1u);
    sqlpool_test::check_conservation(pool.stats());
}

BOOST_FIXTURE_TEST_CASE(controls_on_a_closed_pool_do_nothing, pool_fixture) {
    sqlpool::pool pool(small_config(path, 1, 1));
    (void)pool.close();
    BOOST_TEST(!pool.suspend());
    BOOST_TEST(pool.soft_evict() == 0u);
    BOOST_TEST(thrown<sqlpool::pool_closed_error>([&] { (void)pool.acquire(); }).has_value());
}

BOOST_FIXTURE_TEST_CASE(suspend_while_threads_hammer_the_pool_loses_no_lease, pool_fixture) {
    sqlpool::pool pool(small_config(path, 2, 4));
    pool.write([](sqlpool::connection& c) { c.exec("CREATE TABLE t(x)"); });
    std::atomic<bool> stop{false};
    std::atomic<std::uint64_t> writes{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t)
        threads.emplace_back([&] {
            while (!stop.load()) {
                pool.write([](sqlpool::connection& c) { c.exec("INSERT INTO t VALUES (1)"); });
                ++writes;
            }
        });
    sqlpool::connection probe({.path = path}); // not the pool's: it sees what the pool lets through
    const auto rows = [&] { return probe.query_value<std::int64_t>("SELECT count(*) FROM t"); };
    for (int round = 0; round < 20; ++round) {
        (void)pool.suspend();
        BOOST_TEST(eventually([&] { return pool.stats().in_use == 0; }));
        const std::int64_t before = rows();
        if (round % 4 == 0) (void)pool.soft_evict();
        std::this_thread::sleep_for(2ms);
        BOOST_TEST(rows() == before); // nothing gets through while suspended and drained
        (void)pool.resume();
        BOOST_TEST(eventually([&] { return rows() > before; }));
    }
    stop = true;
    for (auto& t : threads) t.join();
    BOOST_TEST(pool.read([](sqlpool::connection& c) {
        return c.query_value<std::int64_t>("SELECT count(*) FROM t");
    }) == static_cast<std::int64_t>(writes.load()));
    sqlpool_test::check_conservation(pool.stats());
}

BOOST_FIXTURE_TEST_CASE(a_read_write_pool_suspends_and_evicts_both_sides, pool_fixture) {
    sqlpool::read_write_pool<> pool(small_config(path, 1, 3));
    BOOST_TEST(pool.suspend());
    BOOST_TEST(pool.stats().suspended == 2u);
    BOOST_TEST(!pool.try_acquire(0ms).has_value());
    BOOST_TEST(pool.resume());
    BOOST_TEST(pool.soft_evict() == 2u); // one idle reader, the idle writer
    BOOST_TEST(pool.stats().closed.evicted == 2u);
}

BOOST_FIXTURE_TEST_CASE(the_service_passes_the_controls_through, pool_fixture) {
    sqlpool::database db(sqlpool::database_options{.pool = small_config(path, 1, 2)});
    BOOST_TEST(thrown<sqlpool::state_error>([&] { (void)db.suspend(); }).has_value());
    db.start();
    BOOST_TEST(db.suspend());
    BOOST_TEST(db.stats().suspended == 1u);
    BOOST_TEST(db.resume());
    BOOST_TEST(db.soft_evict() == 1u);
    db.stop();
}

// ---------------------------------------------------------------------------------------------
// resize(min, max) at run time, and close(timeout) that interrupts and reports instead of hanging.
namespace {

// A query that runs for minutes unless interrupted (a few million rows a second).
constexpr const char* endless_query = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE "
                                      "x < 5000000000) SELECT max(x) FROM c";

struct resize_events : sqlpool::pool_listener {
    std::atomic<int> resizes{0};
    std::atomic<std::size_t> min{0};
    std::atomic<std::size_t> max{0};
    std::atomic<std::size_t> closed_now{0};
    void on_resize(std::size_t new_min, std::size_t new_max, std::size_t idle_closed) override {
        ++resizes;
        min = new_min;
        max = new_max;
        closed_now += idle_closed;
    }
};

} // namespace

BOOST_FIXTURE_TEST_SUITE(resize, pool_fixture)

BOOST_AUTO_TEST_CASE(growing_a_full_pool_serves_the_thread_waiting_for_it) {
    auto events = std::make_shared<resize_events>();
    auto config = small_config(path, 1, 1);
    config.listener = events;
    sqlpool::pool pool(config);
    auto held = pool.acquire();
    borrower waiting(pool, 20s);
    BOOST_TEST_REQUIRE(eventually([&] { return pool.stats().waiting == 1; }));
    BOOST_TEST(pool.resize(1, 2) == 0u);
    BOOST_TEST(eventually([&] { return waiting.done(); }));
    BOOST_TEST(waiting.got());
    const auto s = pool.stats();
    BOOST_TEST(s.max_connections == 2u);
    BOOST_TEST(s.min_connections == 1u);
    BOOST_TEST(pool.config().max_connections == 1u); // the configuration as given
    BOOST_TEST(events->resizes == 1);
    BOOST_TEST(events->max == 2u);
}

// 130 slots need three chunks of the table; shrinking back closes the leased ones beyond the new
// max as they return, and only those.
BOOST_AUTO_TEST_CASE(a_pool_grows_past_its_configured_size_and_shrinks_back_as_leases_return) {
    sqlpool::pool pool(small_config(path, 1, 1));
    BOOST_TEST(pool.resize(0, 130) == 0u);
    std::vector<sqlpool::lease> leases;
    std::set<std::uint64_t> ids;
    for (int i = 0; i < 130; ++i) {
        leases.push_back(pool.acquire());
        ids.insert(leases.back().info().id);
    }
    BOOST_TEST(ids.size() == 130u);
    BOOST_TEST(!pool.try_acquire().has_value()); // full at the new size
    BOOST_TEST(pool.resize(0, 2) == 0u);         // nothing idle: the leased ones close on return
    BOOST_TEST(pool.stats().total == 130u);
    leases.clear();
    const auto s = pool.stats();
    BOOST_TEST(s.total == 2u);
    BOOST_TEST(s.closed.resized == 128u);
    BOOST_TEST(s.max_connections == 2u);
    sqlpool_test::check_conservation(s);
}

BOOST_AUTO_TEST_CASE(shrinking_closes_idle_connections_beyond_the_new_max_at_once) {
    auto events = std::make_shared<resize_events>();
    auto config = small_config(path, 4, 4);
    config.listener = events;
    sqlpool::pool pool(config);
    BOOST_TEST(pool.stats().idle == 4u);
    BOOST_TEST(pool.resize(1, 2) == 2u);
    const auto s = pool.stats();
    BOOST_TEST(s.total == 2u);
    BOOST_TEST(s.closed.resized == 2u);
    BOOST_TEST(events->closed_now == 2u);
    BOOST_TEST(sqlpool::to_prometheus(s).find("reason=\"resized\"} 2") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(raising_min_opens_connections_now) {
    sqlpool::pool pool(small_config(path, 0, 4));
    BOOST_TEST(pool.stats().total == 0u);
    (void)pool.resize(3, 4);
    BOOST_TEST(pool.stats().total == 3u);
    BOOST_TEST(pool.stats().min_connections == 3u);
}

BOOST_AUTO_TEST_CASE(invalid_sizes_are_refused_and_change_nothing) {
    sqlpool::pool pool(small_config(path, 1, 3));
    const auto bigger_min = thrown<sqlpool::config_error>([&] { (void)pool.resize(3, 2); });
    BOOST_TEST_REQUIRE(bigger_min.has_value());
    BOOST_TEST(std::string(bigger_min->what()).find("min_connections (3) exceeds max_connections (2)") !=
               std::string::npos);
    const auto zero = thrown<sqlpool::config_error>([&] { (void)pool.resize(0, 0); });
    BOOST_TEST_REQUIRE(zero.has_value());
    BOOST_TEST(std::string(zero->what()).find("max_connections is 0") != std::string::npos);
    BOOST_TEST(pool.stats().max_connections == 3u);
    BOOST_TEST(pool.stats().min_connections == 1u);
    pool.close();
    BOOST_CHECK_THROW((void)pool.resize(1, 2), sqlpool::pool_closed_error);
}

BOOST_AUTO_TEST_CASE(a_read_write_pool_resizes_its_readers_and_keeps_one_writer) {
    sqlpool::read_write_pool pool(small_config(path, 1, 4)); // 3 readers + 1 writer
    BOOST_TEST(pool.stats().max_connections == 4u);
    (void)pool.resize(2, 7);
    BOOST_TEST(pool.readers().stats().max_connections == 6u);
    BOOST_TEST(pool.writer().stats().max_connections == 1u);
    BOOST_CHECK_THROW((void)pool.resize(5, 4), sqlpool::config_error);
}

BOOST_AUTO_TEST_CASE(the_service_resizes_only_while_running) {
    sqlpool::database db(sqlpool::database_options{.pool = small_config(path, 1, 2)});
    BOOST_CHECK_THROW((void)db.resize(1, 3), sqlpool::state_error);
    db.start();
    (void)db.resize(1, 5);
    BOOST_TEST(db.stats().max_connections == 5u);
    db.stop();
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(bounded_close, pool_fixture)

// The holder's statement runs for minutes: close() waits its timeout, interrupts it (the holder
// sees pool_closed_error, and its lease still works), and returns instead of hanging.
BOOST_AUTO_TEST_CASE(close_interrupts_a_statement_still_running_after_its_timeout) {
    sqlpool::pool pool(small_config(path, 1, 1));
    std::atomic<int> outcome{0}; // 1: pool_closed_error, then the lease still answered; 2: anything else
    std::thread holder([&] {
        auto lease = pool.acquire();
        try {
            (void)lease->query_value<std::int64_t>(endless_query);
            outcome = 2;
        } catch (const sqlpool::pool_closed_error&) {
            outcome = lease->query_value<std::int64_t>("SELECT 1") == 1 ? 1 : 2;
        } catch (...) {
            outcome = 2;
        }
    });
    // The statement shows once it has run a while: then close() has something to interrupt.
    BOOST_TEST_REQUIRE(eventually([&] {
        const auto all = pool.connections();
        return all.size() == 1 && all[0].sql.find("WITH RECURSIVE") != std::string::npos;
    }));
    const sqlpool::close_report report = pool.close(50ms);
    holder.join();
    BOOST_TEST(report.interrupted == 1u);
    BOOST_TEST(outcome == 1);
    BOOST_TEST(pool.close(0ms).complete); // the lease is back: everything closed
    BOOST_TEST(pool.stats().total == 0u);
}

// A holder that runs nothing is not interrupted: it is reported, with where it acquired.
BOOST_AUTO_TEST_CASE(close_reports_a_lease_still_out_with_its_holder) {
    sqlpool::pool pool(small_config(path, 2, 2));
    std::atomic<bool> holding{false};
    std::atomic<bool> release{false};
    std::thread::id holder_id;
    std::thread holder([&] {
        auto lease = pool.acquire();
        holding = true;
        (void)eventually([&] { return release.load(); });
    });
    holder_id = holder.get_id();
    BOOST_TEST_REQUIRE(eventually([&] { return holding.load(); }));
    const sqlpool::close_report report = pool.close(20ms);
    release = true;
    holder.join();
    BOOST_TEST(!report.complete);
    BOOST_TEST(!static_cast<bool>(report));
    BOOST_TEST(report.interrupted == 0u);
    BOOST_TEST_REQUIRE(report.stragglers.size() == 1u);
    const sqlpool::connection_snapshot& straggler = report.stragglers[0];
    BOOST_TEST((straggler.use == sqlpool::connection_use::leased));
    BOOST_TEST_REQUIRE(straggler.holder.has_value());
    BOOST_TEST((straggler.holder->thread == holder_id));
    BOOST_TEST(std::string(straggler.holder->where.file_name()).find("pool_controls_test.cpp") !=
               std::string::npos);
    BOOST_TEST(sqlpool::describe(straggler).find("leased") != std::string::npos);
    BOOST_TEST(pool.close(0ms).complete);
}

// A WAL database whose last user was the pool leaves no -wal or -shm file behind once close()
// returns complete: the last connection to close checkpoints and deletes them
// (https://sqlite.org/wal.html#the_wal_file), readers first, then the writer and the checkpointer.
BOOST_AUTO_TEST_CASE(a_wal_database_leaves_no_wal_or_shm_file_behind) {
    sqlpool::read_write_pool pool(small_config(path, 1, 4));
    pool.write([](sqlpool::connection& c) { c.exec("CREATE TABLE t(x INTEGER)"); });
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t)
        threads.emplace_back([&pool, t] {
            for (int i = 0; i < 50; ++i) {
                if (t % 2 == 0)
                    pool.write([i](sqlpool::connection& c) { c.exec("INSERT INTO t VALUES (?)", i); });
                else
                    (void)pool.read([](sqlpool::connection& c) {
                        return c.query_value<std::int64_t>("SELECT count(*) FROM t");
                    });
            }
        });
    for (auto& thread : threads) thread.join();
    BOOST_TEST_REQUIRE(std::filesystem::exists(path + "-wal"));
    BOOST_TEST(pool.close(5s).complete);
    BOOST_TEST(!std::filesystem::exists(path + "-wal"));
    BOOST_TEST(!std::filesystem::exists(path + "-shm"));
    sqlpool::connection check(sqlpool::open_options{.path = path});
    BOOST_TEST(check.query_value<std::int64_t>("SELECT count(*) FROM t") == 100);
}

BOOST_AUTO_TEST_CASE(a_read_write_pool_reports_both_sides) {
    sqlpool::read_write_pool pool(small_config(path, 1, 3));
    auto reader = pool.readers().acquire();
    auto writer = pool.writer().acquire();
    const sqlpool::close_report report = pool.close(10ms);
    BOOST_TEST(!report.complete);
    BOOST_TEST(report.stragglers.size() == 2u);
}

BOOST_AUTO_TEST_SUITE_END()
