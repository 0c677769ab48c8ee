// sqlpool-load on a SQLite database file: the stock policy sets over sqlpool::basic_pool and
// sqlpool::read_write_pool, through read()/write() or leases with BEGIN IMMEDIATE.
#include <cstdint>
#include <exception>
#include <filesystem>
#include <stdexcept>
#include <string>

#include "backends.hpp"
#include "workload.hpp"

import sqlpool;

namespace load {

namespace {

// Creates the table and fills it up to `rows` rows; returns the sum of the counters before the run.
std::int64_t prepare_database(const options& o) {
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

// One operation: a point read, or one counter incremented in an IMMEDIATE transaction.
template <class Pool>
void operate(Pool& pool, const options& o, bool read, std::int64_t id) {
    if (o.runner && read) {
        (void)pool.read([&](sqlpool::connection& c) {
            return c.query_value<std::int64_t>("SELECT counter FROM accounts WHERE id = ?", id);
        });
    } else if (o.runner) {
        pool.write([&](sqlpool::connection& c) {
            c.exec("UPDATE accounts SET counter = counter + 1 WHERE id = ?", id);
        });
    } else if (read) {
        auto conn = pool.acquire();
        (void)conn->template query_value<std::int64_t>("SELECT counter FROM accounts WHERE id = ?", id);
    } else {
        auto conn = writer_lease(pool);
        auto tx = conn->begin(sqlpool::isolation_level::immediate);
        conn->exec("UPDATE accounts SET counter = counter + 1 WHERE id = ?", id);
        tx.commit();
    }
}

failure classify(const std::exception& e, bool /*read*/) {
    if (dynamic_cast<const sqlpool::busy_error*>(&e) != nullptr) return failure::busy;
    if (dynamic_cast<const sqlpool::timeout_error*>(&e) != nullptr) return failure::timeout;
    return failure::other;
}

template <class Pool>
int run(const options& o, const sqlpool::pool_config& config) {
    const std::int64_t initial_sum = prepare_database(o);
    Pool pool{config};
    tally t;
    findings f{
        .backend = "sqlite",
        .target_key = "database",
        .target = o.database,
        .errors = {{"busy", failure::busy}, {"timeouts", failure::timeout}, {"other", failure::other}}};
    f.seconds = drive(
        o, t, [&](bool read, std::int64_t id) { operate(pool, o, read, id); }, classify,
        [&] { return pool.stats(); });
    f.stats = pool.stats();
    auto check = pool.acquire();
    f.added = check->template query_value<std::int64_t>("SELECT coalesce(sum(counter), 0) FROM accounts") -
              initial_sum;
    f.integrity = check->template query_value<std::string>("PRAGMA integrity_check");
    return print_report(o, t, f);
}

} // namespace

int run_sqlite(const options& o, const sqlpool::database_options& options) {
    const sqlpool::pool_config& config = options.pool;
    print_header(o, config, "sqlite", "database       " + o.database);
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
}

} // namespace load
