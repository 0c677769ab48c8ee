// Every snippet of docs/tutorial.md, in order, as a program that is built and run as a test, so
// the tutorial cannot rot. (The service chapter is examples/service.cpp.)
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <iostream>
#include <memory>
#include <string>

import sqlpool;

using namespace std::chrono_literals;

namespace {

std::string scratch(const std::string& name) {
    const auto dir = std::filesystem::temp_directory_path() / "sqlpool-tutorial";
    std::filesystem::create_directories(dir);
    std::filesystem::remove(dir / name);
    return (dir / name).string();
}

void first_pool() {
    sqlpool::pool pool{sqlpool::pool_config{.database = scratch("app.db"), .max_connections = 8}};
    auto conn = pool.acquire(); // waits up to acquire_timeout, then timeout_error
    conn->exec("CREATE TABLE IF NOT EXISTS t(id INTEGER PRIMARY KEY, v TEXT)");
    conn->exec("INSERT INTO t(id, v) VALUES(1, 'a')");

    // Which mode when
    auto tx = conn->begin(sqlpool::isolation_level::immediate); // or conn->begin(): the policy's default
    conn->exec("UPDATE t SET v = ? WHERE id = ?", "x", 1);
    tx.commit(); // without it, the destructor rolls back

    // Savepoints
    auto outer = conn->begin();
    {
        auto sp = outer.savepoint(); // nestable to any depth; names are generated
        conn->exec("DELETE FROM t");
        sp.rollback(); // ROLLBACK TO, then RELEASE; or sp.release() to keep
    }
    outer.commit();
    std::cout << "rows after the savepoint rolled back: "
              << conn->query_value<std::int64_t>("SELECT count(*) FROM t") << '\n';
}

void runner() {
    sqlpool::pool pool{sqlpool::pool_config{.database = scratch("runner.db")}};
    pool.write([](sqlpool::connection& c) {
        c.exec("CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT); INSERT INTO t VALUES(1, 'x')");
    });
    auto changed = pool.write([](sqlpool::connection& c) {
        c.exec("UPDATE t SET v = 'y' WHERE id = ?", 1);
        return c.changes();
    });
    auto v = pool.read([](sqlpool::connection& c) { return c.query_value<std::string>("SELECT v FROM t"); });
    std::cout << "runner: " << changed << " changed, v = " << v << '\n';
}

void split() {
    // One writer connection for write(), read-only readers for read() and acquire().
    sqlpool::read_write_pool<> pool{sqlpool::pool_config{.database = scratch("split.db")}};
    pool.write([](sqlpool::connection& c) { c.exec("CREATE TABLE t(v)"); });
    std::cout << "split: readers and one writer, " << pool.stats().total << " connections\n";
}

void manager() {
    const auto dir = std::filesystem::path(scratch("data")).parent_path() / "data";
    std::filesystem::create_directories(dir);
    const auto main_path = (dir / "main.db").string();
    sqlpool::pool_manager pools;
    auto main_db = pools.get_or_create({.database = main_path});
    auto same = pools.get_or_create({.database = (dir / ".." / "data" / "main.db").string()}); // same pool
    const bool gone = pools.close(main_path); // closes and forgets it
    std::cout << "manager: same pool " << (main_db == same) << ", closed " << gone << '\n';
}

void config_from_text() {
    auto config = sqlpool::pool_config::parse(
        "database=app.db max_connections=8 connection_max_age=30m pragma.cache_size=-8000");
    ::setenv("MYAPP_DATABASE", "env.db", 1); // NOLINT(concurrency-mt-unsafe): one thread runs yet
    auto from_env = sqlpool::pool_config::from_env("MYAPP_"); // MYAPP_DATABASE, MYAPP_MAX_CONNECTIONS, ...
    std::cout << "config: " << config.to_string().substr(0, 40) << "... / " << from_env.database << '\n';
}

void watching() {
    struct printer : sqlpool::pool_listener {
        void on_retire(const sqlpool::connection_info& info, sqlpool::retire_reason reason) override {
            std::cout << "connection " << info.id << " retired: " << sqlpool::to_string(reason) << '\n';
        }
    };
    sqlpool::pool pool{sqlpool::pool_config{.database = ":memory:", .listener = std::make_shared<printer>()}};
    {
        auto conn = pool.acquire();
    }
    pool.close();
    std::cout << sqlpool::to_prometheus(pool.stats(), "main").substr(0, 60) << "...\n"
              << sqlpool::to_json(pool.stats()).substr(0, 40) << "...\n";
}

} // namespace

int main() try {
    first_pool();
    runner();
    split();
    manager();
    config_from_text();
    watching();
    std::filesystem::remove_all(std::filesystem::temp_directory_path() / "sqlpool-tutorial");
} catch (const std::exception& e) {
    std::cerr << "tutorial: " << e.what() << '\n';
    return 1;
}
