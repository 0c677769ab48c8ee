// A user-written health policy and recycling policy plugged into basic_pool.
//
// `schema_check` refuses a connection that cannot see the table the application needs;
// `retire_every` retires a connection after a number of leases or an hour, whichever comes first.
#include <chrono>
#include <cstdint>
#include <exception>
#include <filesystem>
#include <iostream>
#include <string>

import sqlpool;

namespace {

// Healthy when the connection can see the table the application needs.
struct schema_check {
    static constexpr sqlpool::check_point when =
        sqlpool::check_point::on_checkout | sqlpool::check_point::periodic;

    sqlpool::health_status check(sqlpool::connection& conn, const sqlpool::connection_info&,
                                 sqlpool::check_point) const noexcept {
        try {
            return conn.query_value<std::int64_t>(
                       "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = 'events'") == 1
                       ? sqlpool::health_status::healthy
                       : sqlpool::health_status::unhealthy;
        } catch (...) {
            return sqlpool::health_status::unhealthy;
        }
    }
};

// Retires a connection after it has been leased `every` times, or when it is older than an hour.
struct retire_every {
    std::uint64_t every = 3;

    [[nodiscard]] sqlpool::retire_reason retire(const sqlpool::connection_info& info,
                                                const sqlpool::recycle_context& context) const {
        if (info.use_count >= every) return sqlpool::retire_reason::uses;
        if (context.now - info.created_at > std::chrono::hours(1)) return sqlpool::retire_reason::aged;
        return sqlpool::retire_reason::none;
    }
};

static_assert(sqlpool::health_policy<schema_check>);
static_assert(sqlpool::recycling_policy<retire_every>);

} // namespace

int main() try {
    const auto path = std::filesystem::temp_directory_path() / "sqlpool-custom-policy.db";
    std::filesystem::remove(path);
    {
        sqlpool::connection setup{path.string()};
        setup.exec("CREATE TABLE events(id INTEGER PRIMARY KEY, what TEXT NOT NULL)");
    }

    using my_pool = sqlpool::basic_pool<sqlpool::locking::std_mutex, schema_check, retire_every>;
    my_pool pool{sqlpool::pool_config{.database = path.string(), .min_connections = 1, .max_connections = 2},
                 schema_check{}, retire_every{.every = 3}};

    for (int i = 0; i < 10; ++i) {
        auto conn = pool.acquire();
        conn->exec("INSERT INTO events(what) VALUES(?)", "event " + std::to_string(i));
    }
    const auto stats = pool.stats();
    auto conn = pool.acquire();
    const auto rows = conn->query_value<std::int64_t>("SELECT count(*) FROM events");
    std::cout << "rows: " << rows << ", connections opened: " << stats.created
              << ", retired for uses: " << stats.closed.uses << '\n';
    // Ten leases with a connection retiring after every third: at least three retired.
    if (rows != 10 || stats.closed.uses < 3) {
        std::cerr << "custom policies did not take effect\n";
        return 1;
    }
    return 0;
} catch (const std::exception& e) {
    std::cerr << "custom_policy: " << e.what() << '\n';
    return 1;
}
