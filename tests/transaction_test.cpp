#define BOOST_TEST_MODULE transaction
#include <boost/test/unit_test.hpp>

#include <rapidcheck.h>
#include <rapidcheck/boost_test.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "support/scratch_dir.hpp"

import sqlpool;

using namespace std::chrono_literals;

namespace {

sqlpool::pool_config config_for(const std::string& path) {
    return sqlpool::pool_config{
        .database = path, .min_connections = 1, .max_connections = 4, .background_maintenance = false};
}

std::int64_t count_rows(sqlpool::connection& conn) {
    return conn.query_value<std::int64_t>("SELECT count(*) FROM t");
}

struct fixture {
    sqlpool_test::scratch_dir dir{"tx"};
    std::string path = dir.file("tx.db");
    sqlpool::connection conn{path};
    fixture() { conn.exec("CREATE TABLE t(id INTEGER PRIMARY KEY, v INTEGER)"); }
};

} // namespace

BOOST_FIXTURE_TEST_SUITE(transactions, fixture)

BOOST_AUTO_TEST_CASE(commit_keeps_and_rollback_undoes) {
    {
        auto tx = conn.begin(sqlpool::isolation_level::immediate);
        BOOST_TEST(conn.in_transaction());
        conn.exec("INSERT INTO t(v) VALUES(1)");
        tx.commit();
        BOOST_TEST(!tx.active());
    }
    {
        auto tx = conn.begin();
        conn.exec("INSERT INTO t(v) VALUES(2)");
        tx.rollback();
    }
    BOOST_TEST(!conn.in_transaction());
    BOOST_TEST(count_rows(conn) == 1);
}

BOOST_AUTO_TEST_CASE(destructor_rolls_back) {
    {
        auto tx = conn.begin(sqlpool::isolation_level::exclusive);
        conn.exec("INSERT INTO t(v) VALUES(1)");
    }
    BOOST_TEST(!conn.in_transaction());
    BOOST_TEST(count_rows(conn) == 0);
}

BOOST_AUTO_TEST_CASE(each_level_begins_the_matching_mode) {
    // IMMEDIATE and EXCLUSIVE take the write lock at BEGIN: a second connection cannot begin one.
    sqlpool::connection other{sqlpool::open_options{.path = path, .busy_timeout = 0ms}};
    for (auto level : {sqlpool::isolation_level::immediate, sqlpool::isolation_level::exclusive}) {
        auto tx = conn.begin(level);
        BOOST_TEST((tx.level() == level));
        BOOST_CHECK_THROW(other.exec("BEGIN IMMEDIATE"), sqlpool::busy_error);
        tx.rollback();
    }
    // DEFERRED takes no lock until the first write.
    auto tx = conn.begin(sqlpool::isolation_level::deferred);
    other.exec("BEGIN IMMEDIATE");
    other.exec("ROLLBACK");
    tx.rollback();
}

BOOST_AUTO_TEST_CASE(misuse_is_a_transaction_error) {
    auto tx = conn.begin();
    BOOST_CHECK_THROW((void)conn.begin(), sqlpool::transaction_error); // begin inside a transaction
    tx.commit();
    BOOST_CHECK_THROW(tx.commit(), sqlpool::transaction_error);   // commit twice
    BOOST_CHECK_THROW(tx.rollback(), sqlpool::transaction_error); // rollback after commit

    auto second = conn.begin();
    second.rollback();
    BOOST_CHECK_THROW(second.commit(), sqlpool::transaction_error); // commit after rollback

    auto third = conn.begin();
    auto moved = std::move(third);
    BOOST_CHECK_THROW(third.commit(), sqlpool::transaction_error); // use after move
    BOOST_CHECK_THROW((void)third.savepoint(), sqlpool::transaction_error);
    BOOST_TEST(moved.active());
    moved.rollback();
}

BOOST_AUTO_TEST_CASE(misuse_messages_say_what_was_wrong) {
    auto tx = conn.begin();
    tx.commit();
    try {
        tx.commit();
        BOOST_FAIL("commit twice did not throw");
    } catch (const sqlpool::transaction_error& e) {
        BOOST_TEST(std::string(e.what()).find("already ended") != std::string::npos);
    }
}

BOOST_AUTO_TEST_CASE(savepoints_nest_release_and_roll_back) {
    auto tx = conn.begin();
    conn.exec("INSERT INTO t(v) VALUES(1)");
    {
        auto outer = tx.savepoint();
        conn.exec("INSERT INTO t(v) VALUES(2)");
        {
            auto inner = tx.savepoint();
            BOOST_TEST(tx.savepoint_depth() == 2u);
            conn.exec("INSERT INTO t(v) VALUES(3)");
            inner.rollback();
        }
        outer.release();
    }
    {
        auto dropped = tx.savepoint();
        conn.exec("INSERT INTO t(v) VALUES(4)");
    } // destructor rolls back to it
    tx.commit();
    BOOST_TEST(count_rows(conn) == 2);
    BOOST_TEST(conn.query_value<std::int64_t>("SELECT sum(v) FROM t") == 3);
}

BOOST_AUTO_TEST_CASE(ending_an_outer_savepoint_first_is_an_error) {
    auto tx = conn.begin();
    auto outer = tx.savepoint();
    auto inner = tx.savepoint();
    BOOST_CHECK_THROW(outer.release(), sqlpool::transaction_error);
    BOOST_CHECK_THROW(outer.rollback(), sqlpool::transaction_error);
    BOOST_CHECK_THROW(tx.commit(), sqlpool::transaction_error); // savepoint still open
    inner.release();
    BOOST_CHECK_THROW(inner.release(), sqlpool::transaction_error); // ended already
    outer.release();
    tx.commit();
}

BOOST_AUTO_TEST_CASE(savepoint_names_are_generated) {
    auto tx = conn.begin();
    auto a = tx.savepoint();
    auto b = tx.savepoint();
    BOOST_TEST(a.name() != b.name());
    BOOST_TEST(a.name().rfind("sqlpool_sp_", 0) == 0u);
    b.release();
    a.release();
    tx.rollback();
}

BOOST_AUTO_TEST_CASE(savepoint_of_a_finished_transaction_does_nothing) {
    auto tx = conn.begin();
    auto sp = tx.savepoint();
    tx.rollback();
    BOOST_CHECK_THROW(sp.release(), sqlpool::transaction_error);
    BOOST_TEST(!conn.in_transaction());
}

BOOST_AUTO_TEST_SUITE_END()

// Random programs of SAVEPOINT / RELEASE / ROLLBACK TO / INSERT, with exceptions unwinding the
// guards, against a model: a stack of row sets.
namespace {

enum class op { insert, open, release, rollback, raise };

struct program_runner {
    sqlpool::connection& conn;
    const std::vector<int>& ops;
    std::size_t at = 0;
    std::int64_t next_value = 1;

    // Runs ops at this nesting level; returns the model's rows kept by this level.
    std::vector<std::int64_t> run(sqlpool::transaction& tx, std::vector<std::int64_t> rows, int depth) {
        while (at < ops.size()) {
            const auto o = static_cast<op>(ops[at++] % 5);
            switch (o) {
            case op::insert:
                conn.exec("INSERT INTO t(v) VALUES(?)", next_value);
                rows.push_back(next_value++);
                break;
            case op::open: {
                if (depth >= 8) break;
                auto sp = tx.savepoint();
                try {
                    auto inner = run(tx, rows, depth + 1);
                    // The nested run returns when it met release or rollback for this savepoint.
                    if (last_end_was_release) {
                        sp.release();
                        rows = std::move(inner);
                    } else {
                        sp.rollback();
                    }
                } catch (const std::runtime_error&) {
                    // sp's destructor rolls back: the inner rows are gone.
                    if (depth == 0) break;
                    throw;
                }
                break;
            }
            case op::release:
                if (depth == 0) break;
                last_end_was_release = true;
                return rows;
            case op::rollback:
                if (depth == 0) break;
                last_end_was_release = false;
                return rows;
            case op::raise:
                if (depth == 0) break;
                throw std::runtime_error("borrower failed");
            }
        }
        last_end_was_release = true; // ran out of ops: keep what the open savepoints did
        return rows;
    }

    bool last_end_was_release = true;
};

} // namespace

RC_BOOST_PROP(savepoint_programs_match_a_stack_model, (const std::vector<int>& raw_ops)) {
    std::vector<int> ops;
    for (int v : raw_ops) ops.push_back(v < 0 ? -(v + 1) : v);
    sqlpool::pool pool{sqlpool::pool_config{
        .database = ":memory:", .min_connections = 1, .max_connections = 1, .background_maintenance = false}};
    std::vector<std::int64_t> model;
    {
        auto conn = pool.acquire();
        conn->exec("CREATE TABLE t(v INTEGER)");
        auto tx = conn->begin();
        program_runner runner{*conn, ops};
        model = runner.run(tx, {}, 0);
        tx.commit();
    }
    auto conn = pool.acquire();
    RC_ASSERT(!conn->in_transaction());
    RC_ASSERT(conn->busy_statement_count() == 0u);
    std::vector<std::int64_t> actual;
    for (auto [v] : conn->query<std::int64_t>("SELECT v FROM t ORDER BY v")) actual.push_back(v);
    RC_ASSERT(actual == model);
}

BOOST_AUTO_TEST_SUITE(runner)

BOOST_AUTO_TEST_CASE(write_commits_and_returns_the_result) {
    sqlpool_test::scratch_dir dir{"runner"};
    sqlpool::pool pool{config_for(dir.file("w.db"))};
    pool.write([](sqlpool::connection& c) { c.exec("CREATE TABLE t(v INTEGER)"); });
    const auto changed = pool.write([](sqlpool::connection& c) {
        c.exec("INSERT INTO t VALUES(1), (2)");
        return c.changes();
    });
    BOOST_TEST(changed == 2);
    BOOST_TEST(pool.read([](sqlpool::connection& c) {
        return c.query_value<std::int64_t>("SELECT sum(v) FROM t");
    }) == 3);
    BOOST_TEST(pool.stats().transactions.committed == 3u);
}

BOOST_AUTO_TEST_CASE(other_exceptions_roll_back_and_propagate_unchanged) {
    sqlpool_test::scratch_dir dir{"runner"};
    sqlpool::pool pool{config_for(dir.file("w.db"))};
    pool.write([](sqlpool::connection& c) { c.exec("CREATE TABLE t(v INTEGER)"); });
    int calls = 0;
    BOOST_CHECK_THROW(pool.write([&](sqlpool::connection& c) {
        ++calls;
        c.exec("INSERT INTO t VALUES(1)");
        throw std::logic_error("mine");
    }),
                      std::logic_error);
    BOOST_TEST(calls == 1);
    BOOST_TEST(pool.read([](sqlpool::connection& c) {
        return c.query_value<std::int64_t>("SELECT count(*) FROM t");
    }) == 0);
    BOOST_TEST(pool.stats().transactions.rolled_back == 1u);
}

// A writer held open by another connection makes write() give up with busy_error after
// transaction_timeout; the pool is fully usable afterwards.
BOOST_AUTO_TEST_CASE(deadline_surfaces_busy_and_pool_recovers) {
    sqlpool_test::scratch_dir dir{"runner"};
    auto config = config_for(dir.file("w.db"));
    config.busy_timeout = 10ms;
    config.acquire_timeout = 1s;
    config.transaction_timeout = 200ms;
    sqlpool::pool pool{config};
    pool.write([](sqlpool::connection& c) { c.exec("CREATE TABLE t(v INTEGER)"); });

    sqlpool::connection blocker{sqlpool::open_options{.path = config.database}};
    blocker.exec("BEGIN IMMEDIATE");
    try {
        pool.write([](sqlpool::connection& c) { c.exec("INSERT INTO t VALUES(1)"); });
        BOOST_FAIL("write() did not give up");
    } catch (const sqlpool::busy_error& e) {
        BOOST_TEST(std::string(e.what()).find("attempt") != std::string::npos);
    }
    blocker.exec("ROLLBACK");
    const auto s = pool.stats();
    BOOST_TEST(s.transactions.busy_surfaced == 1u);
    BOOST_TEST(s.transactions.busy_seen >= 1u);
    BOOST_TEST(s.in_use == 0u);
    pool.write([](sqlpool::connection& c) { c.exec("INSERT INTO t VALUES(1)"); });
    BOOST_TEST(pool.stats().transactions.committed == 2u);
}

// 8 threads incrementing one counter by read-then-write.
struct race_result {
    std::int64_t counter = 0;
    std::uint64_t acknowledged = 0;
    std::uint64_t busy = 0;
};

template <class Increment>
race_result race(const std::string& path, Increment increment) {
    constexpr int threads = 8;
    constexpr int per_thread = 250;
    std::atomic<std::uint64_t> acknowledged{0};
    std::atomic<std::uint64_t> busy{0};
    {
        sqlpool::connection setup{path};
        setup.exec("CREATE TABLE IF NOT EXISTS c(id INTEGER PRIMARY KEY, n INTEGER NOT NULL)");
        setup.exec("INSERT OR REPLACE INTO c VALUES(1, 0)");
    }
    auto config = config_for(path);
    config.max_connections = threads;
    // Generous waits: what is checked is that no update is lost and no busy error surfaces, not
    // how fast; on a loaded machine a writer can sit in SQLite's busy handler for seconds.
    config.busy_timeout = 30s;
    config.acquire_timeout = 60s;
    config.transaction_timeout = 60s;
    sqlpool::pool pool{config};
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; ++t)
        workers.emplace_back([&] {
            for (int i = 0; i < per_thread; ++i) {
                try {
                    increment(pool);
                    ++acknowledged;
                } catch (const sqlpool::busy_error&) {
                    ++busy;
                }
            }
        });
    for (auto& w : workers) w.join();
    auto conn = pool.acquire();
    return {conn->query_value<std::int64_t>("SELECT n FROM c WHERE id = 1"), acknowledged.load(),
            busy.load()};
}

void read_then_write(sqlpool::connection& c) {
    const auto n = c.query_value<std::int64_t>("SELECT n FROM c WHERE id = 1");
    c.exec("UPDATE c SET n = ? WHERE id = 1", n + 1);
}

BOOST_AUTO_TEST_CASE(immediate_read_then_write_loses_nothing) {
    sqlpool_test::scratch_dir dir{"race"};
    const auto r = race(dir.file("r.db"), [](sqlpool::pool& pool) {
        auto conn = pool.acquire();
        auto tx = conn->begin(sqlpool::isolation_level::immediate);
        read_then_write(*conn);
        tx.commit();
    });
    BOOST_TEST(r.busy == 0u);
    BOOST_TEST(r.counter == static_cast<std::int64_t>(r.acknowledged));
}

// The read-then-write shape, made deterministic: A reads in a DEFERRED transaction, B commits a
// write, then A's write needs to upgrade a snapshot that is no longer the newest. SQLite answers
// SQLITE_BUSY_SNAPSHOT at once, without the busy handler (waiting could only deadlock).
BOOST_AUTO_TEST_CASE(deferred_read_then_write_surfaces_typed_busy) {
    sqlpool_test::scratch_dir dir{"race"};
    const auto path = dir.file("r.db");
    sqlpool::connection a{path};
    sqlpool::connection b{path};
    a.exec("CREATE TABLE c(id INTEGER PRIMARY KEY, n INTEGER NOT NULL); INSERT INTO c VALUES(1, 0);");
    auto tx = a.begin(sqlpool::isolation_level::deferred);
    const auto n = a.query_value<std::int64_t>("SELECT n FROM c WHERE id = 1");
    b.exec("UPDATE c SET n = n + 1 WHERE id = 1");
    try {
        a.exec("UPDATE c SET n = ? WHERE id = 1", n + 1);
        BOOST_FAIL("the stale write went through");
    } catch (const sqlpool::busy_error& e) {
        BOOST_TEST(e.extended_code() == sqlpool::result_code::busy_snapshot);
    }
    tx.rollback();
    BOOST_TEST(b.query_value<std::int64_t>("SELECT n FROM c WHERE id = 1") == 1); // no lost update
}

BOOST_AUTO_TEST_CASE(deferred_through_the_runner_loses_nothing) {
    sqlpool_test::scratch_dir dir{"race"};
    const auto r = race(dir.file("r.db"), [](sqlpool::pool& pool) {
        // read() begins DEFERRED: a read-then-write inside it is the classic lost-update shape.
        pool.read([](sqlpool::connection& c) { read_then_write(c); });
    });
    BOOST_TEST(r.busy == 0u);
    BOOST_TEST(r.counter == static_cast<std::int64_t>(r.acknowledged));
    BOOST_TEST(r.acknowledged == 8u * 250u);
}

BOOST_AUTO_TEST_SUITE_END()
