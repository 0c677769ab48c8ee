// sqlpool-load: the main job. Runs a concurrent read/write workload on a database file through a
// pool and reports what happened.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <iostream>
#include <random>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <unistd.h>

#include "options.hpp"

import sqlpool;

namespace {

using steady = std::chrono::steady_clock;

struct tally {
    std::atomic<std::uint64_t> reads{0};
    std::atomic<std::uint64_t> writes{0}; // acknowledged: COMMIT returned
    std::atomic<std::uint64_t> busy{0};
    std::atomic<std::uint64_t> timeouts{0};
    std::atomic<std::uint64_t> other{0};
    std::atomic<std::uint64_t> started{0};

    [[nodiscard]] std::uint64_t done() const { return reads + writes + busy + timeouts + other; }
};

std::string format_ns(std::chrono::nanoseconds ns) {
    char text[32];
    const auto value = static_cast<double>(ns.count());
    if (value < 1e3)
        std::snprintf(text, sizeof text, "%.0fns", value);
    else if (value < 1e6)
        std::snprintf(text, sizeof text, "%.1fus", value / 1e3);
    else if (value < 1e9)
        std::snprintf(text, sizeof text, "%.1fms", value / 1e6);
    else
        std::snprintf(text, sizeof text, "%.2fs", value / 1e9);
    return text;
}

std::string json_escape(std::string_view text) {
    std::string out;
    for (char c : text) {
        if (c == '"' || c == '\\') out += '\\';
        if (static_cast<unsigned char>(c) < 0x20) continue;
        out += c;
    }
    return out;
}

std::string default_database() {
    return (std::filesystem::temp_directory_path() / ("sqlpool-load-" + std::to_string(::getpid()) + ".db"))
        .string();
}

// Creates the table and fills it up to `rows` rows; returns the sum of the counters before the run.
std::int64_t prepare_database(const load::options& o) {
    sqlpool::connection conn{o.database};
    conn.exec(
        "CREATE TABLE IF NOT EXISTS accounts(id INTEGER PRIMARY KEY, counter INTEGER NOT NULL DEFAULT 0)");
    const auto have = conn.query_value<std::int64_t>("SELECT count(*) FROM accounts");
    if (static_cast<std::uint64_t>(have) < o.rows) {
        conn.exec("BEGIN IMMEDIATE");
        for (auto id = static_cast<std::uint64_t>(have) + 1; id <= o.rows; ++id)
            conn.exec("INSERT OR IGNORE INTO accounts(id) VALUES(?)", id);
        conn.exec("COMMIT");
    }
    return conn.query_value<std::int64_t>("SELECT coalesce(sum(counter), 0) FROM accounts");
}

// The configuration's create_if_missing and schema, through the database service: it refuses a
// missing file unless it may create one, applies the migrations and checks the declared tables.
// Without a schema only the file is checked: the service would refuse a file whose schema version
// it does not know, and a load run on an application's database should not be.
void prepare_schema(const sqlpool::database_options& options) {
    if (options.schema.migrations.empty() && options.schema.tables.empty()) {
        if (!options.create_if_missing && !std::filesystem::exists(options.pool.database))
            throw std::runtime_error("database file '" + options.pool.database +
                                     "' does not exist and create_if_missing=false");
        return;
    }
    sqlpool::database service{options};
    service.start();
    service.stop();
}

// The connection a lease-level write takes: the writer of a read_write_pool, any other pool's next.
template <class Pool>
sqlpool::lease writer_lease(Pool& pool) {
    return pool.acquire();
}
template <class Pool>
sqlpool::lease writer_lease(sqlpool::read_write_pool<Pool>& pool) {
    return pool.acquire_writer();
}

template <class Pool>
void work(Pool& pool, const load::options& o, tally& t, const std::atomic<bool>& stop, unsigned seed) {
    std::mt19937_64 rng(seed);
    std::uniform_int_distribution<std::uint64_t> pick_row(1, o.rows);
    std::bernoulli_distribution is_read(o.read_ratio);
    while (!stop.load(std::memory_order_relaxed)) {
        if (o.operations != 0 && t.started.fetch_add(1, std::memory_order_relaxed) >= o.operations) break;
        const auto id = static_cast<std::int64_t>(pick_row(rng));
        const bool read = is_read(rng);
        try {
            if (o.runner) {
                if (read) {
                    (void)pool.read([&](sqlpool::connection& c) {
                        return c.query_value<std::int64_t>("SELECT counter FROM accounts WHERE id = ?", id);
                    });
                    ++t.reads;
                } else {
                    pool.write([&](sqlpool::connection& c) {
                        c.exec("UPDATE accounts SET counter = counter + 1 WHERE id = ?", id);
                    });
                    ++t.writes;
                }
            } else {
                auto conn = read ? pool.acquire() : writer_lease(pool);
                if (read) {
                    (void)conn->template query_value<std::int64_t>(
                        "SELECT counter FROM accounts WHERE id = ?", id);
                    ++t.reads;
                } else {
                    auto tx = conn->begin(sqlpool::isolation_level::immediate);
                    conn->exec("UPDATE accounts SET counter = counter + 1 WHERE id = ?", id);
                    tx.commit();
                    ++t.writes;
                }
            }
        } catch (const sqlpool::busy_error&) {
            ++t.busy; // the lease rolls the transaction back when it returns
        } catch (const sqlpool::timeout_error&) {
            ++t.timeouts;
        } catch (const std::exception& e) {
            if (t.other++ == 0) std::cerr << "sqlpool-load: first unexpected error: " << e.what() << '\n';
        }
    }
}

void print_stats(const sqlpool::pool_stats& s) {
    std::cout << "pool           total " << s.total << "  idle " << s.idle << "  in use " << s.in_use
              << "  waiting " << s.waiting << "  max " << s.max_connections << '\n'
              << "               acquired " << s.acquired << "  created " << s.created << "  open failures "
              << s.open_failures << "  timeouts " << s.timeouts << '\n'
              << "               closed: aged " << s.closed.aged << "  idle " << s.closed.idle
              << "  unhealthy " << s.closed.unhealthy << "  uses " << s.closed.uses << "  broken "
              << s.closed.broken << "  shutdown " << s.closed.shutdown << '\n'
              << "               resets on return " << s.resets << "  failed health checks "
              << s.failed_health_checks << '\n'
              << "transactions   committed " << s.transactions.committed << "  rolled back "
              << s.transactions.rolled_back << "  retried " << s.transactions.retried << "  busy seen "
              << s.transactions.busy_seen << "  busy surfaced " << s.transactions.busy_surfaced << '\n'
              << "acquire wait   p50 " << format_ns(s.wait_p50) << "  p99 " << format_ns(s.wait_p99)
              << "  max " << format_ns(s.wait_max) << '\n';
}

template <class Pool>
int run(const load::options& o, const sqlpool::pool_config& config) {
    const std::int64_t initial_sum = prepare_database(o);
    Pool pool{config};
    tally t;
    std::atomic<bool> stop{false};
    const auto started = steady::now();
    std::vector<std::thread> workers;
    workers.reserve(o.threads);
    for (unsigned i = 0; i < o.threads; ++i)
        workers.emplace_back([&, i] { work(pool, o, t, stop, 0x5eed + i); });

    const bool live = o.progress && !o.json && ::isatty(STDOUT_FILENO) == 1;
    const auto deadline = started + o.duration;
    while (true) {
        std::this_thread::sleep_for(std::chrono::milliseconds(250));
        const auto now = steady::now();
        const bool budget_spent = o.operations != 0 && t.done() >= o.operations;
        if (live) {
            const double secs = std::chrono::duration<double>(now - started).count();
            const auto s = pool.stats();
            std::printf("\r  %6.1fs  %10.0f ops/s  in use %zu / idle %zu  waiting %zu   ", secs,
                        static_cast<double>(t.done()) / secs, s.in_use, s.idle, s.waiting);
            std::fflush(stdout);
        }
        if (budget_spent || (o.operations == 0 && now >= deadline)) break;
    }
    stop = true;
    for (auto& w : workers) w.join();
    const double secs = std::chrono::duration<double>(steady::now() - started).count();
    if (live) std::printf("\r%72s\r", "");

    const auto stats = pool.stats();
    const std::uint64_t total = t.reads + t.writes;
    auto check = pool.acquire();
    const auto sum =
        check->template query_value<std::int64_t>("SELECT coalesce(sum(counter), 0) FROM accounts");
    const auto added = static_cast<std::uint64_t>(sum - initial_sum);
    const bool consistent = added == t.writes;
    const auto integrity = check->template query_value<std::string>("PRAGMA integrity_check");
    const auto ops_per_second = static_cast<std::uint64_t>(static_cast<double>(total) / secs);

    if (o.json) {
        std::cout << R"({"database":")" << json_escape(o.database) << R"(","threads":)" << o.threads
                  << R"(,"seconds":)" << secs << R"(,"operations":)" << total << R"(,"ops_per_second":)"
                  << ops_per_second << R"(,"reads":)" << t.reads << R"(,"writes":)" << t.writes
                  << R"(,"errors":{"busy":)" << t.busy << R"(,"timeouts":)" << t.timeouts << R"(,"other":)"
                  << t.other << R"(},"consistent":)" << (consistent ? "true" : "false") << R"(,"integrity":")"
                  << json_escape(integrity) << R"(","pool":)" << sqlpool::to_json(stats, o.policy) << "}\n";
    } else {
        std::cout << "operations     " << total << " in " << secs << " s = " << ops_per_second
                  << " ops/s  (reads " << t.reads << ", writes " << t.writes << ")\n"
                  << "errors         busy " << t.busy << "  timeouts " << t.timeouts << "  other " << t.other
                  << '\n';
        print_stats(stats);
        std::cout << "consistency    counters grew by " << added << ", acknowledged writes " << t.writes
                  << ": " << (consistent ? "ok" : "MISMATCH") << '\n'
                  << "integrity      " << integrity << '\n';
    }
    return !consistent || integrity != "ok" || t.other != 0 ? 1 : 0;
}

} // namespace

int main(int argc, char** argv) {
    load::options o;
    try {
        o = load::parse(std::vector<std::string_view>(argv + 1, argv + argc));
    } catch (const load::usage_error& e) {
        std::cerr << "sqlpool-load: " << e.what() << '\n';
        return 2;
    }
    if (o.help) {
        std::cout << load::help_text();
        return 0;
    }
    if (o.database.empty()) o.database = default_database();
    sqlpool::database_options options{.pool = {
                                          .database = o.database,
                                          .min_connections = o.min_connections,
                                          .max_connections = o.max_connections,
                                      }};
    try {
        if (!o.config.empty()) {
            const auto mode = o.lenient_config ? sqlpool::config_mode::lenient : sqlpool::config_mode::strict;
            auto read = sqlpool::database_options::parse_with_notes(o.config, mode, options);
            for (const auto& note : read.notes) std::cerr << "sqlpool-load: note: " << note << '\n';
            options = std::move(read.options);
        }
        options.pool.check();
    } catch (const sqlpool::config_error& e) {
        std::cerr << "sqlpool-load: " << e.what() << '\n';
        return 2;
    }
    const sqlpool::pool_config& config = options.pool;
    o.database = config.database;
    if (!o.json)
        std::cout << "sqlpool-load: " << o.threads << " threads, "
                  << (o.operations != 0 ? std::to_string(o.operations) + " operations"
                                        : std::to_string(o.duration.count()) + " ms")
                  << ", read ratio " << o.read_ratio << ", policy " << o.policy << ", via "
                  << (o.runner ? "runner" : "direct") << ", pool " << config.min_connections << ".."
                  << config.max_connections << '\n'
                  << "database       " << o.database << " (" << o.rows << " rows)\n";
    try {
        prepare_schema(options);
        if (o.policy == "fast")
            return run<sqlpool::basic_pool<sqlpool::locking::spin, sqlpool::health::no_check,
                                           sqlpool::recycling::never>>(o, config);
        if (o.policy == "split") return run<sqlpool::read_write_pool<>>(o, config);
        if (o.policy == "checked")
            return run<sqlpool::basic_pool<
                sqlpool::locking::std_mutex,
                sqlpool::health::all_of<sqlpool::health::ping, sqlpool::health::file_identity>>>(o, config);
        return run<sqlpool::pool>(o, config);
    } catch (const sqlpool::config_error& e) {
        std::cerr << "sqlpool-load: " << e.what() << '\n';
        return 2;
    } catch (const std::exception& e) {
        std::cerr << "sqlpool-load: " << e.what() << '\n';
        return 1;
    }
}
