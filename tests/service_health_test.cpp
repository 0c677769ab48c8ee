// service_health: what the database service answers to health(), live() and ready(), and stats()
// in every state, through the public API, with the database file deleted and replaced under it,
// opens failing, the pool full, and probes racing start() and stop().
#define BOOST_TEST_MODULE service_health
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "support/pool_helpers.hpp"
#include "support/temp_dir.hpp"

import sqlpool;

using namespace std::chrono_literals;

namespace {

struct fixture {
    sqlpool_test::temp_dir dir{"health"};
    std::string path = dir.file("h.db");
    std::shared_ptr<std::atomic<bool>> refuse_opens = std::make_shared<std::atomic<bool>>(false);

    [[nodiscard]] sqlpool::database_options options(std::size_t max = 2) const {
        return {.pool = {.database = path,
                         .max_connections = max,
                         .acquire_timeout = 10s,
                         .background_maintenance = false,
                         .on_connect =
                             [refuse = refuse_opens](sqlpool::connection&) {
                                 if (refuse->load()) throw std::runtime_error("opens refused by the test");
                             }},
                .schema = {.migrations = {{1, "t", "CREATE TABLE t(x INTEGER)"}}}};
    }
};

bool has(const sqlpool::health_report& r, const std::string& part) {
    return r.to_string().find(part) != std::string::npos;
}

using sqlpool_test::eventually;

} // namespace

BOOST_FIXTURE_TEST_SUITE(service_health, fixture)

BOOST_AUTO_TEST_CASE(answers_in_every_state) {
    sqlpool::database db{options()};
    auto report = db.health();
    BOOST_TEST((report.status == sqlpool::availability::down));
    BOOST_TEST(report.to_string() == "down: the service is created");
    BOOST_TEST(!db.ready());
    BOOST_TEST(db.live());
    BOOST_TEST(db.stats().acquired == 0u); // before the first start: zero, not an exception
    db.start();
    BOOST_TEST(db.health().to_string() == "up");
    BOOST_TEST(db.ready());
    db.exec("INSERT INTO t VALUES(1)");
    db.stop();
    BOOST_TEST(db.health().to_string() == "down: the service is stopped");
    BOOST_TEST(!db.ready());
    BOOST_TEST(db.live());
    const auto last = db.stats(); // what the pool did, kept after it closed
    BOOST_TEST(last.acquired >= 2u);
    BOOST_TEST(last.transactions.committed >= 1u);
    BOOST_TEST(last.total == 0u);
}

BOOST_AUTO_TEST_CASE(a_deleted_file_is_down_and_not_live_until_a_restart) {
    sqlpool::database db{options()};
    db.start();
    db.exec("INSERT INTO t VALUES(1)");
    std::filesystem::remove(path);
    const auto report = db.health();
    BOOST_TEST((report.status == sqlpool::availability::down));
    BOOST_TEST(has(report, "is gone from its path"), report.to_string());
    BOOST_TEST(!db.live());
    BOOST_TEST(!db.ready());
    db.stop();
    BOOST_TEST(db.live()); // stopped: nothing to restart
    db.start();            // a new file at the path, migrated
    BOOST_TEST(db.live());
    BOOST_TEST(db.health().to_string() == "up");
}

BOOST_AUTO_TEST_CASE(a_replaced_file_is_down_and_not_live) {
    sqlpool::database db{options()};
    db.start();
    {
        sqlpool::database other{{.pool = {.database = dir.file("other.db")}}};
        other.start();
        other.exec("CREATE TABLE unrelated(y)");
    }
    std::filesystem::rename(dir.file("other.db"), path);
    const auto report = db.health();
    BOOST_TEST(has(report, "was replaced since start"), report.to_string());
    BOOST_TEST((report.status == sqlpool::availability::down));
    BOOST_TEST(!db.live());
}

BOOST_AUTO_TEST_CASE(opens_failing_with_nothing_open_is_down_and_counts_since_the_last_report) {
    sqlpool::database db{options()};
    db.start();
    BOOST_TEST(db.soft_evict() >= 1u); // nothing open now
    refuse_opens->store(true);
    BOOST_CHECK_THROW(db.exec("INSERT INTO t VALUES(1)"), sqlpool::error);
    const auto report = db.health();
    BOOST_TEST((report.status == sqlpool::availability::down));
    BOOST_TEST(has(report, "no connection is open, and 1 connection failed to open"), report.to_string());
    BOOST_TEST(db.live());                       // a restart would not fix the hook: not a liveness failure
    BOOST_TEST(db.health().to_string() == "up"); // nothing failed since the previous report
    refuse_opens->store(false);
    db.exec("INSERT INTO t VALUES(1)");
    BOOST_TEST(db.ready());
}

BOOST_AUTO_TEST_CASE(opens_failing_beside_an_open_connection_is_degraded) {
    sqlpool::database db{options()};
    db.start();
    auto pool = db.underlying_pool();
    auto held = pool->acquire(); // the one open connection, leased
    refuse_opens->store(true);
    std::jthread other([&] { BOOST_CHECK_THROW((void)pool->acquire(), sqlpool::error); }); // opens a second
    other.join();
    const auto report = db.health();
    BOOST_TEST((report.status == sqlpool::availability::degraded));
    BOOST_TEST(has(report, "1 connection failed to open"), report.to_string());
    BOOST_TEST(db.ready());
}

BOOST_AUTO_TEST_CASE(a_full_pool_with_threads_waiting_and_timeouts_are_degraded) {
    sqlpool::database db{options(1)};
    db.start();
    auto pool = db.underlying_pool();
    std::optional<sqlpool::lease> held{pool->acquire()};
    std::jthread waiter([&] { db.exec("INSERT INTO t VALUES(2)"); });
    BOOST_REQUIRE(eventually([&] { return db.stats().waiting == 1u; }));
    auto report = db.health();
    BOOST_TEST(has(report, "pool full: 1 thread waiting for one of 1 connection"), report.to_string());
    BOOST_TEST((report.status == sqlpool::availability::degraded));
    held.reset();
    waiter.join();
    std::jthread([&] {
        auto again = pool->acquire();
        std::jthread([&] { BOOST_TEST(!pool->try_acquire(1ms).has_value()); }).join();
    }).join();
    report = db.health();
    BOOST_TEST(has(report, "1 acquire() call timed out since the previous health report"),
               report.to_string());
    BOOST_TEST(db.health().to_string() == "up");
}

BOOST_AUTO_TEST_CASE(suspended_is_degraded_and_not_ready) {
    sqlpool::database db{options()};
    db.start();
    BOOST_TEST(db.suspend());
    BOOST_TEST(has(db.health(), "suspended"));
    BOOST_TEST(!db.ready());
    BOOST_TEST(db.live());
    BOOST_TEST(db.resume());
    BOOST_TEST(db.ready());
}

// A reader that never ends keeps the checkpoints from resetting the WAL: degraded, and up again
// once the reader ended and a checkpoint reset it.
BOOST_AUTO_TEST_CASE(a_starving_wal_is_degraded) {
    sqlpool::database db{{.pool = sqlpool_test::small_wal_config(path, 50ms),
                          .schema = {.migrations = {{1, "items", "CREATE TABLE items(payload BLOB)"}}}}};
    db.start();
    auto pool = db.underlying_pool();
    {
        auto reader = pool->acquire();
        auto snapshot = reader->begin(sqlpool::isolation_level::deferred);
        (void)reader->query_value<std::int64_t>("SELECT count(*) FROM items"); // holds its snapshot
        for (int i = 0; i < 400; ++i) db.exec("INSERT INTO items VALUES(randomblob(1024))");
        BOOST_REQUIRE(eventually([&] { return db.stats().wal.starved > 0u; }));
        const auto report = db.health();
        BOOST_TEST(has(report, "readers kept the WAL from resetting"), report.to_string());
        BOOST_TEST((report.status == sqlpool::availability::degraded));
        BOOST_TEST(db.ready());
        snapshot.commit();
    }
    db.exec("INSERT INTO items VALUES(randomblob(1024))"); // a commit past the cap asks for a round
    BOOST_REQUIRE(eventually([&] {
        const auto s = db.stats();
        return s.wal.truncate > 0u && sqlpool_test::wal_size(path) < 256 * 1024;
    }));
    (void)db.health(); // what happened meanwhile
    BOOST_TEST(eventually([&] { return db.health().to_string() == "up"; }));
}

// Probes from two threads while a third starts and stops the service over and over: every answer
// is one of the two the states allow, and none throws.
BOOST_AUTO_TEST_CASE(probes_race_start_and_stop) {
    sqlpool::database db{options()};
    std::atomic<bool> done{false};
    std::atomic<int> odd{0};
    auto probe = [&] {
        while (!done.load()) {
            const auto r = db.health();
            if (r.to_string() != "up" && !has(r, "the service is")) ++odd;
            (void)db.ready();
            (void)db.live();
            (void)db.stats();
        }
    };
    {
        std::jthread a(probe), b(probe);
        for (int i = 0; i < 20; ++i) {
            db.start();
            db.exec("INSERT INTO t VALUES(3)");
            db.stop();
        }
        done.store(true);
    }
    BOOST_TEST(odd.load() == 0);
    BOOST_TEST(db.stats().transactions.committed >= 1u);
}

BOOST_AUTO_TEST_SUITE_END()
