// The README's tour, as a program that is built and run as a test. Laid out as in the README.
// clang-format off
#include <chrono>
#include <cstdint>
#include <exception>
#include <filesystem>
#include <iostream>
#include <string>

#include <range/v3/view/take.hpp>

import sqlpool;

using namespace std::chrono_literals;

int main() try {
    const auto path = (std::filesystem::temp_directory_path() / "sqlpool-tour.db").string();
    std::filesystem::remove(path);

    sqlpool::pool pool{sqlpool::pool_config{
        .database = path,
        .min_connections = 2, .max_connections = 8,
        .acquire_timeout = 5s, .connection_max_age = 30min, .health_check_interval = 30s,
    }};

    {
        auto conn = pool.acquire();
        conn->exec("CREATE TABLE IF NOT EXISTS kv(k INTEGER PRIMARY KEY, v TEXT)");
        auto tx = conn->begin(sqlpool::isolation_level::immediate);
        conn->exec("INSERT INTO kv VALUES(?, ?)", 1, "one");
        { auto sp = tx.savepoint(); conn->exec("DELETE FROM kv"); sp.rollback(); }
        tx.commit();
        for (const auto& [k, v] : conn->query<std::int64_t, std::string>("SELECT k, v FROM kv WHERE k > ?", 0) |
                               ::ranges::views::take(10))
            std::cout << k << " = " << v << '\n';
    }
    if (auto conn = pool.try_acquire(10ms)) std::cout << "try_acquire got connection " << conn->info().id << '\n';

    auto n = pool.write([](sqlpool::connection& c) { c.exec("UPDATE kv SET v = 'x'"); return c.changes(); });
    auto v = pool.read([](sqlpool::connection& c) { return c.query_value<std::string>("SELECT v FROM kv"); });
    std::cout << n << " row(s) updated, v = " << v << '\n';
    std::cout << sqlpool::to_json(pool.stats()) << '\n';
    return n == 1 && v == "x" ? 0 : 1;
} catch (const std::exception& e) {
    std::cerr << "tour: " << e.what() << '\n';
    return 1;
}
