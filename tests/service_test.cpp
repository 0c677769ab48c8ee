#define BOOST_TEST_MODULE service
#include <boost/test/unit_test.hpp>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <string>
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
    BOOST_TEST(message_of([&] { (void)db.stats(); }).find("stopped") != std::string::npos);
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
