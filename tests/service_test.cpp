#define BOOST_TEST_MODULE service
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <latch>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include <sys/wait.h>
#include <unistd.h>

#include "support/scratch_dir.hpp"

import sqlpool;

using namespace std::chrono_literals;

namespace {

sqlpool::schema two_step_schema() {
    return sqlpool::schema{
        .migrations = {{1, "create users", "CREATE TABLE users(id INTEGER PRIMARY KEY, name TEXT NOT NULL)"},
                       {2, "add email",
                        "ALTER TABLE users ADD COLUMN email TEXT; CREATE INDEX users_email ON users(email)"}},
        .tables = {{"users", {"id", "name", "email"}}},
    };
}

sqlpool::database_options options_for(const std::string& path, sqlpool::schema s = two_step_schema()) {
    return sqlpool::database_options{.pool = {.database = path,
                                              .min_connections = 1,
                                              .max_connections = 4,
                                              .background_maintenance = false},
                                     .schema = std::move(s)};
}

struct fixture {
    sqlpool_test::scratch_dir dir{"service"};
    std::string path = dir.file("s.db");
};

template <class F>
std::string message_of(F&& f) {
    try {
        f();
    } catch (const std::exception& e) {
        return e.what();
    }
    return {};
}

} // namespace

BOOST_FIXTURE_TEST_SUITE(lifecycle, fixture)

BOOST_AUTO_TEST_CASE(every_transition) {
    sqlpool::database db{options_for(path)};
    BOOST_TEST((db.state() == sqlpool::service_state::created));
    db.start();
    BOOST_TEST((db.state() == sqlpool::service_state::running));
    db.start(); // repeated start is safe
    BOOST_TEST(db.schema_version() == 2);
    db.stop();
    BOOST_TEST((db.state() == sqlpool::service_state::stopped));
    db.stop();  // repeated stop is safe
    db.start(); // and a stopped service starts again
    BOOST_TEST((db.state() == sqlpool::service_state::running));
}

BOOST_AUTO_TEST_CASE(operations_in_the_wrong_state_name_the_state) {
    sqlpool::database db{options_for(path)};
    const auto created = message_of([&] { db.exec("SELECT 1"); });
    BOOST_TEST(created.find("created") != std::string::npos);
    BOOST_CHECK_THROW(db.exec("SELECT 1"), sqlpool::state_error);
    db.start();
    db.stop();
    BOOST_TEST(message_of([&] { (void)db.underlying_pool(); }).find("stopped") != std::string::npos);
    BOOST_TEST(message_of([&] { (void)db.stats(); }).empty()); // stats() answers in every state
    BOOST_CHECK_THROW((void)db.query<std::int64_t>("SELECT 1"), sqlpool::state_error);
}

BOOST_AUTO_TEST_CASE(high_level_api_reads_and_writes) {
    sqlpool::database db{options_for(path)};
    db.start();
    BOOST_TEST(db.exec("INSERT INTO users(name, email) VALUES(?, ?)", "ada", "ada@example.org") == 1);
    db.write([](sqlpool::connection& c) { c.exec("INSERT INTO users(name) VALUES('bob')"); });
    const auto rows =
        db.query<std::string, std::optional<std::string>>("SELECT name, email FROM users ORDER BY id");
    BOOST_REQUIRE(rows.size() == 2u);
    BOOST_TEST(std::get<0>(rows[0]) == "ada");
    BOOST_TEST(!std::get<1>(rows[1]).has_value());
    BOOST_TEST(db.read([](sqlpool::connection& c) {
        return c.query_value<std::int64_t>("SELECT count(*) FROM users");
    }) == 2);
    BOOST_TEST(db.stats().transactions.committed >= 3u);
}

BOOST_AUTO_TEST_CASE(creation_can_be_forbidden) {
    auto options = options_for(path);
    options.create_if_missing = false;
    sqlpool::database db{options};
    BOOST_CHECK_THROW(db.start(), sqlpool::schema_error);
    BOOST_TEST((db.state() == sqlpool::service_state::stopped));
    BOOST_TEST(!std::filesystem::exists(path));
}

BOOST_AUTO_TEST_CASE(migration_versions_must_increase) {
    auto s = two_step_schema();
    s.migrations[1].version = 1;
    BOOST_CHECK_THROW(sqlpool::database(options_for(path, s)), sqlpool::config_error);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(migrations, fixture)

BOOST_AUTO_TEST_CASE(upgrades_step_by_step) {
    auto first = two_step_schema();
    first.migrations.pop_back();
    first.tables = {{"users", {"id", "name"}}};
    {
        sqlpool::database v1{options_for(path, first)};
        v1.start();
        BOOST_TEST(v1.schema_version() == 1);
        v1.exec("INSERT INTO users(name) VALUES('kept')");
    }
    sqlpool::database v2{options_for(path)};
    v2.start();
    BOOST_TEST(v2.schema_version() == 2);
    BOOST_TEST(v2.query<std::string>("SELECT name FROM users").size() == 1u);
}

BOOST_AUTO_TEST_CASE(failing_migration_rolls_back_and_names_itself) {
    auto s = two_step_schema();
    s.migrations.push_back({3, "broken step", "CREATE TABLE extra(v); INSERT INTO no_such_table VALUES(1)"});
    sqlpool::database db{options_for(path, s)};
    const auto what = message_of([&] { db.start(); });
    BOOST_TEST(what.find("migration 3 (broken step)") != std::string::npos);
    BOOST_TEST(what.find("no such table") != std::string::npos);
    BOOST_TEST((db.state() == sqlpool::service_state::stopped));
    sqlpool::connection check{path};
    BOOST_TEST(check.query_value<std::int64_t>("PRAGMA user_version") == 2); // steps 1 and 2 stay
    BOOST_TEST(check.query_value<std::int64_t>("SELECT count(*) FROM sqlite_schema WHERE name = 'extra'") ==
               0);
}

BOOST_AUTO_TEST_CASE(newer_file_is_refused) {
    {
        sqlpool::connection future{path};
        future.exec("PRAGMA user_version = 7");
    }
    sqlpool::database db{options_for(path)};
    const auto what = message_of([&] { db.start(); });
    BOOST_TEST(what.find("schema version 7") != std::string::npos);
    BOOST_TEST(what.find("refusing to start") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(missing_declared_table_or_column_stops_the_start) {
    auto s = two_step_schema();
    s.tables.push_back({"orders", {"id"}});
    s.tables[0].columns.push_back("phone");
    sqlpool::database db{options_for(path, s)};
    const auto what = message_of([&] { db.start(); });
    BOOST_TEST(what.find("table 'orders'") != std::string::npos);
    BOOST_TEST(what.find("column 'users.phone'") != std::string::npos);
    BOOST_TEST((db.state() == sqlpool::service_state::stopped));
}

// Two processes start the service on one new file at once: each migration applies exactly once.
BOOST_AUTO_TEST_CASE(two_processes_migrate_one_new_file_once) {
    auto s = two_step_schema();
    // A migration that is not idempotent: applied twice, it would insert two rows.
    s.migrations.push_back({3, "seed", "CREATE TABLE IF NOT EXISTS seeds(v); INSERT INTO seeds VALUES(1)"});
    int pipe_fds[2];
    BOOST_REQUIRE(::pipe(pipe_fds) == 0);
    std::vector<pid_t> children;
    for (int i = 0; i < 2; ++i) {
        const pid_t child = ::fork();
        BOOST_REQUIRE(child >= 0);
        if (child == 0) {
            char go = 0;
            ::close(pipe_fds[1]);
            const bool released = ::read(pipe_fds[0], &go, 1) >= 0; // both start together
            int status = released ? 0 : 3;
            try {
                sqlpool::database db{options_for(path, s)};
                db.start();
                db.stop();
            } catch (const std::exception& e) {
                std::fprintf(stderr, "child %d: %s\n", static_cast<int>(::getpid()), e.what());
                status = 1;
            }
            ::_exit(status);
        }
        children.push_back(child);
    }
    ::close(pipe_fds[0]);
    ::close(pipe_fds[1]); // EOF releases both children at once
    for (pid_t child : children) {
        int status = 0;
        BOOST_REQUIRE(::waitpid(child, &status, 0) == child);
        BOOST_TEST(WIFEXITED(status));
        BOOST_TEST(WEXITSTATUS(status) == 0);
    }
    sqlpool::connection check{path};
    BOOST_TEST(check.query_value<std::int64_t>("PRAGMA user_version") == 3);
    BOOST_TEST(check.query_value<std::int64_t>("SELECT count(*) FROM seeds") == 1);
}

BOOST_AUTO_TEST_SUITE_END()

// stop() and start() while other threads call the service (issue 11): every call completes or
// throws state_error / pool_closed_error, and stop() drains the calls already inside.
namespace {

// What the calls of one stress thread ended with.
struct tally {
    std::uint64_t succeeded = 0;
    std::uint64_t state_errors = 0;
    std::uint64_t closed_errors = 0;
    std::uint64_t acknowledged_inserts = 0; // exec() or write() calls that returned: a row each
    std::vector<std::string> unexpected;    // anything else a call threw
};

// One call of the public API: operation number `op` (0..6). True when it returned after inserting
// one row.
bool one_call(sqlpool::database& db, unsigned op) {
    switch (op) {
    case 0:
        return db.exec("INSERT INTO users(name) VALUES(?)", "exec") == 1;
    case 1:
        (void)db.query<std::int64_t>("SELECT count(*) FROM users");
        return false;
    case 2:
        (void)db.read([](sqlpool::connection& c) { return c.query_value<std::int64_t>("SELECT 1"); });
        return false;
    case 3:
        db.write([](sqlpool::connection& c) { c.exec("INSERT INTO users(name) VALUES('write')"); });
        return true;
    case 4:
        (void)db.stats();
        return false;
    case 5:
        (void)db.schema_version();
        return false;
    default: {
        auto lease = db.underlying_pool()->acquire();
        (void)lease->query_value<std::int64_t>("SELECT 1");
        return false;
    }
    }
}

constexpr unsigned operations = 7;

// Shared by the stress callers and the thread that stops and starts the service.
struct stress_state {
    std::atomic<bool> done{false};
    std::atomic<std::uint64_t> successes{0};
    std::atomic<unsigned> round{0};
};

// Which operation a caller runs next. Even rounds mix every operation across calls; odd rounds
// give all callers one operation, so that each also meets stop() with no other kind of call
// around (a lease held elsewhere makes stop() wait, which hides a call that holds none).
unsigned operation_for(unsigned round, unsigned call) {
    return round % 2 == 0 ? call % operations : (round / 2) % operations;
}

// Calls the service until `done`, counting how each call ended.
tally call_until(sqlpool::database& db, stress_state& shared, unsigned first) {
    tally t;
    for (unsigned i = first; !shared.done.load(); ++i) {
        try {
            if (one_call(db, operation_for(shared.round.load(), i))) ++t.acknowledged_inserts;
            ++t.succeeded;
            shared.successes.fetch_add(1);
        } catch (const sqlpool::state_error&) {
            ++t.state_errors;
        } catch (const sqlpool::pool_closed_error&) {
            ++t.closed_errors;
        } catch (const std::exception& e) {
            t.unexpected.emplace_back(e.what());
        } catch (...) {
            t.unexpected.emplace_back("an exception not derived from std::exception");
        }
    }
    return t;
}

// Stops and starts the service `rounds` times (fewer if `budget` runs out). After each start it
// waits until the callers have had two more calls succeed, so that every round has calls inside
// the running service when stop() comes. The service is running when this returns.
unsigned cycle_service(sqlpool::database& db, stress_state& shared, unsigned rounds,
                       std::chrono::steady_clock::duration budget) {
    const auto give_up = std::chrono::steady_clock::now() + budget;
    unsigned done = 0;
    while (done < rounds && std::chrono::steady_clock::now() < give_up) {
        db.stop();
        std::this_thread::yield();
        db.start();
        shared.round = ++done;
        const auto target = shared.successes.load() + 2;
        while (shared.successes.load() < target && std::chrono::steady_clock::now() < give_up)
            std::this_thread::yield();
    }
    return done;
}

// Blocks the first connection a pool opens until release() is called, so that a start() can be
// held in `starting`.
struct held_start {
    std::latch opening{1};
    std::latch released{1};
    std::atomic<bool> first{true};

    void on_connect(sqlpool::connection&) {
        if (!first.exchange(false)) return;
        opening.count_down();
        released.wait();
    }
};

// Gives a thread that is about to call into the service a chance to get there before the held
// start goes on. Only the interleaving depends on this, never the outcome the test expects.
void let_it_arrive() {
    std::this_thread::sleep_for(20ms);
}

} // namespace

BOOST_FIXTURE_TEST_SUITE(stop_while_calls_in_flight, fixture)

BOOST_AUTO_TEST_CASE(calls_racing_stop_and_start_complete_or_throw_cleanly) {
    auto options = options_for(path);
    options.pool.close_timeout = 5s; // bounds stop() should a call never leave
    sqlpool::database db{options};
    db.start();
    stress_state shared;
    constexpr unsigned callers = 3;
    std::vector<tally> tallies(callers);
    std::vector<std::thread> threads;
    for (unsigned t = 0; t < callers; ++t)
        threads.emplace_back([&, t] { tallies[t] = call_until(db, shared, t * 3); });
    const unsigned rounds = cycle_service(db, shared, 200, 3s);
    shared.done = true;
    for (auto& thread : threads) thread.join();

    tally all;
    for (const auto& t : tallies) {
        all.succeeded += t.succeeded;
        all.state_errors += t.state_errors;
        all.closed_errors += t.closed_errors;
        all.acknowledged_inserts += t.acknowledged_inserts;
        all.unexpected.insert(all.unexpected.end(), t.unexpected.begin(), t.unexpected.end());
    }
    BOOST_TEST_MESSAGE("FIGURES rounds=" << rounds << " succeeded=" << all.succeeded << " state_error="
                                         << all.state_errors << " pool_closed_error=" << all.closed_errors
                                         << " other=" << all.unexpected.size()
                                         << " acknowledged_inserts=" << all.acknowledged_inserts);
    BOOST_TEST(rounds > 0u);
    BOOST_TEST(all.succeeded > 0u);
    BOOST_TEST(all.unexpected.empty());
    for (std::size_t i = 0; i < std::min<std::size_t>(all.unexpected.size(), 5); ++i)
        BOOST_TEST_MESSAGE("unexpected: " << all.unexpected[i]);
    BOOST_REQUIRE((db.state() == sqlpool::service_state::running));
    const auto rows = db.query<std::int64_t>("SELECT count(*) FROM users");
    BOOST_TEST(static_cast<std::uint64_t>(std::get<0>(rows.at(0))) == all.acknowledged_inserts);
}

BOOST_AUTO_TEST_CASE(stop_waits_for_a_call_already_inside) {
    sqlpool::database db{options_for(path)}; // close_timeout 30 s: the drain, not a timeout, ends it
    db.start();
    std::latch inside{1};
    std::atomic<bool> entered{false};
    std::atomic<bool> stop_returned{false};
    bool stop_had_returned = true;
    std::string failure = "write() did not run";
    std::thread caller([&] {
        failure = message_of([&] {
            db.write([&](sqlpool::connection& c) {
                if (!entered.exchange(true)) inside.count_down();
                while (db.state() != sqlpool::service_state::stopping) std::this_thread::yield();
                c.exec("INSERT INTO users(name) VALUES('inside')");
                stop_had_returned = stop_returned.load();
            });
        });
    });
    inside.wait();
    db.stop();
    stop_returned = true;
    caller.join();
    BOOST_TEST(failure.empty(), "write() threw: " << failure);
    BOOST_TEST(!stop_had_returned);
    BOOST_TEST((db.state() == sqlpool::service_state::stopped));
    db.start();
    BOOST_TEST(std::get<0>(db.query<std::int64_t>("SELECT count(*) FROM users").at(0)) == 1);
}

// close_timeout 0: stop() closes the pool at once while a write() is inside. The write's fn then
// asks for a retry, whose acquire meets the closed pool: pool_closed_error, not a dead pool.
BOOST_AUTO_TEST_CASE(a_call_inside_past_close_timeout_gets_a_clean_error) {
    auto options = options_for(path);
    options.pool.close_timeout = 0ms;
    sqlpool::database db{options};
    db.start();
    std::latch inside{1};
    std::latch stopped{1};
    int attempts = 0;
    std::string outcome;
    std::thread caller([&] {
        try {
            db.write([&](sqlpool::connection& c) {
                c.exec("INSERT INTO users(name) VALUES('late')");
                if (++attempts == 1) {
                    inside.count_down();
                    stopped.wait();
                }
                throw sqlpool::busy_error(sqlpool::result_code::busy, "forced retry", "");
            });
            outcome = "returned";
        } catch (const sqlpool::pool_closed_error&) {
            outcome = "pool_closed_error";
        } catch (const std::exception& e) {
            outcome = std::string("other: ") + e.what();
        }
    });
    inside.wait();
    db.stop(); // does not wait: close_timeout is 0
    BOOST_TEST((db.state() == sqlpool::service_state::stopped));
    stopped.count_down();
    caller.join();
    BOOST_TEST(outcome == "pool_closed_error");
    BOOST_TEST(attempts == 1);
    db.start();
    BOOST_TEST(std::get<0>(db.query<std::int64_t>("SELECT count(*) FROM users").at(0)) == 0);
}

// A second start() while one is under way waits for it instead of failing: both end running.
BOOST_AUTO_TEST_CASE(concurrent_starts_both_return_running) {
    held_start hold;
    auto options = options_for(path);
    options.pool.on_connect = [&](sqlpool::connection& c) { hold.on_connect(c); };
    sqlpool::database db{options};
    std::string first = "not run";
    std::string second = "not run";
    std::thread starter([&] { first = message_of([&] { db.start(); }); });
    hold.opening.wait();
    BOOST_TEST((db.state() == sqlpool::service_state::starting));
    std::thread other([&] { second = message_of([&] { db.start(); }); });
    let_it_arrive();
    hold.released.count_down();
    starter.join();
    other.join();
    BOOST_TEST(first.empty(), "first start() threw: " << first);
    BOOST_TEST(second.empty(), "second start() threw: " << second);
    BOOST_TEST((db.state() == sqlpool::service_state::running));
    BOOST_TEST(db.schema_version() == 2);
}

// stop() while start() is under way waits for the start, then stops: the service ends stopped.
BOOST_AUTO_TEST_CASE(stop_during_start_ends_stopped) {
    held_start hold;
    auto options = options_for(path);
    options.pool.on_connect = [&](sqlpool::connection& c) { hold.on_connect(c); };
    sqlpool::database db{options};
    std::string started = "not run";
    std::string stopped = "not run";
    std::thread starter([&] { started = message_of([&] { db.start(); }); });
    hold.opening.wait();
    std::thread stopper([&] { stopped = message_of([&] { db.stop(); }); });
    let_it_arrive();
    hold.released.count_down();
    starter.join();
    stopper.join();
    BOOST_TEST(started.empty(), "start() threw: " << started);
    BOOST_TEST(stopped.empty(), "stop() threw: " << stopped);
    BOOST_TEST((db.state() == sqlpool::service_state::stopped));
}

BOOST_AUTO_TEST_SUITE_END()
