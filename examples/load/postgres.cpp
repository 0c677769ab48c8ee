// sqlpool-load on a PostgreSQL server (sqlpool.postgres): the policy sets default and fast over
// postgres::basic_pool, split as postgres::read_write_pool (writes on the primary, reads on the
// standby), through postgres::write()/read() or leases with BEGIN / COMMIT.
#include <chrono>
#include <cstdint>
#include <exception>
#include <iostream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>

#include "backends.hpp"
#include "workload.hpp"

import sqlpool;
import sqlpool.postgres;

namespace load {

namespace {

namespace pg = sqlpool::postgres;

constexpr std::string_view select_counter = "SELECT counter FROM accounts WHERE id = $1";
constexpr std::string_view increment_counter = "UPDATE accounts SET counter = counter + 1 WHERE id = $1";
constexpr std::string_view sum_counters = "SELECT coalesce(sum(counter), 0)::bigint FROM accounts";

// Creates the table and fills rows 1..N (one statement); returns the sum of the counters before
// the run.
std::int64_t prepare_table(const options& o) {
    pg::connection conn(pg::connection_options{.conninfo = o.conninfo});
    conn.exec(
        "CREATE TABLE IF NOT EXISTS accounts(id bigint PRIMARY KEY, counter bigint NOT NULL DEFAULT 0)");
    conn.exec("INSERT INTO accounts(id) SELECT generate_series(1, $1::bigint) ON CONFLICT DO NOTHING",
              static_cast<std::int64_t>(o.rows));
    return conn.query_value<std::int64_t>(sum_counters);
}

// Where writes and reads go, and the pool figures: the pool itself, or a read_write_pool's writer
// (the primary) and reader (the standby) pools.
template <class Pool>
struct roles {
    static Pool& writer(Pool& pool) { return pool; }
    static Pool& reader(Pool& pool) { return pool; }
    static sqlpool::pool_stats stats(Pool& pool) { return pool.stats(); }
};
template <class Isolation>
struct roles<pg::read_write_pool<Isolation>> {
    using split = pg::read_write_pool<Isolation>;
    static auto& writer(split& pool) { return pool.writer(); }
    static auto& reader(split& pool) { return pool.reader(); }
    static sqlpool::pool_stats stats(split& pool) {
        sqlpool::pool_stats s = pool.reader().stats();
        s += pool.writer().stats();
        return s;
    }
};

// One operation: a point read, or one counter incremented in a transaction. The runs of fn
// are counted here: postgres::write/read keep no pool_stats::transactions.
template <class Pool>
void operate(Pool& pool, const options& o, tally& t, bool read, std::int64_t id) {
    if (o.runner && read) {
        (void)pg::read(roles<Pool>::reader(pool), [&](pg::connection& c) {
            ++t.fn_runs;
            return c.query_value<std::int64_t>(select_counter, id);
        });
    } else if (o.runner) {
        pg::write(roles<Pool>::writer(pool), [&](pg::connection& c) {
            ++t.fn_runs;
            c.exec(increment_counter, id);
        });
    } else if (read) {
        auto lease = roles<Pool>::reader(pool).acquire();
        (void)lease->template query_value<std::int64_t>(select_counter, id);
    } else {
        auto lease = roles<Pool>::writer(pool).acquire();
        auto tx = lease->begin();
        lease->exec(increment_counter, id);
        tx.commit();
    }
}

// A read's COMMIT whose answer was lost is a lost connection: a READ ONLY transaction commits
// nothing, and the final check must allow only for writes that may have committed.
failure classify(const std::exception& e, bool read) {
    if (dynamic_cast<const sqlpool::commit_unknown_error*>(&e) != nullptr)
        return read ? failure::connection_lost : failure::commit_unknown;
    if (dynamic_cast<const sqlpool::serialization_error*>(&e) != nullptr) return failure::serialization;
    if (dynamic_cast<const sqlpool::connection_lost_error*>(&e) != nullptr) return failure::connection_lost;
    if (dynamic_cast<const sqlpool::timeout_error*>(&e) != nullptr) return failure::timeout;
    return failure::other;
}

// The counters' growth and, for want of PRAGMA integrity_check, whether rows 1..N are all there;
// read on the primary.
template <class Pool>
void check_table(Pool& primary, const options& o, std::int64_t initial_sum, findings& f) {
    auto lease = primary.acquire();
    f.added = lease->template query_value<std::int64_t>(sum_counters) - initial_sum;
    const auto rows = static_cast<std::int64_t>(o.rows);
    const auto present = lease->template query_value<std::int64_t>(
        "SELECT count(*) FROM accounts WHERE id BETWEEN 1 AND $1", rows);
    f.integrity = present == rows ? "ok"
                                  : "rows missing: " + std::to_string(present) + " of rows 1.." +
                                        std::to_string(rows) + " present";
    f.integrity_note =
        " (rows 1.." + std::to_string(rows) + " counted: PostgreSQL has no PRAGMA integrity_check)";
}

template <class Pool>
int run(Pool& pool, const options& o, std::int64_t initial_sum) {
    tally t;
    findings f{.backend = "postgres",
               .target_key = "conninfo",
               .target = pg::describe_conninfo(o.conninfo),
               .errors = {{"serialization", failure::serialization},
                          {"connection_lost", failure::connection_lost},
                          {"commit_unknown", failure::commit_unknown},
                          {"timeouts", failure::timeout},
                          {"other", failure::other}},
               .runner_counts_in_stats = false};
    f.seconds = drive(
        o, t, [&](bool read, std::int64_t id) { operate(pool, o, t, read, id); }, classify,
        [&] { return roles<Pool>::stats(pool); });
    f.stats = roles<Pool>::stats(pool);
    check_table(roles<Pool>::writer(pool), o, initial_sum, f);
    return print_report(o, t, f);
}

// Waits until the standby has replayed the primary's WAL as it stands now, so that the first read
// finds the table and its rows; a reader on the primary (the fallback) needs no wait.
void wait_for_standby(pg::read_write_pool<>& pool) {
    const auto lsn = pg::write(pool.writer(), [](pg::connection& c) {
        return c.query_value<std::string>("SELECT pg_current_wal_lsn()::text");
    });
    const auto until = steady::now() + std::chrono::seconds(30);
    while (!pg::read(pool.reader(), [&](pg::connection& c) {
        return c.query_value<bool>("SELECT coalesce(pg_last_wal_replay_lsn() >= $1::pg_lsn, true)", lsn);
    })) {
        if (steady::now() > until)
            throw std::runtime_error("the standby has not replayed the primary's WAL up to " + lsn +
                                     " after 30 s: is it streaming from this primary?");
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
}

} // namespace

int run_postgres(const options& o, const sqlpool::pool_config& config) {
    (void)pg::parse_conninfo(o.conninfo); // config_error with libpq's message
    if (o.policy == "split") (void)pg::parse_conninfo(o.standby_conninfo);
    print_header(o, config, "postgres", "server         " + pg::describe_conninfo(o.conninfo));
    if (o.policy == "split" && !o.json)
        std::cout << "standby        " << pg::describe_conninfo(o.standby_conninfo)
                  << " (reads; two pools, each " << config.min_connections << ".." << config.max_connections
                  << ")\n";
    const std::int64_t initial_sum = prepare_table(o);
    if (o.policy == "fast") {
        pg::basic_pool<sqlpool::locking::spin, sqlpool::health::no_check, sqlpool::recycling::never> pool{
            config};
        return run(pool, o, initial_sum);
    }
    if (o.policy == "split") {
        sqlpool::pool_config standby = config;
        standby.database = o.standby_conninfo;
        pg::read_write_pool<> pool{config, standby};
        wait_for_standby(pool);
        return run(pool, o, initial_sum);
    }
    pg::pool pool{config};
    return run(pool, o, initial_sum);
}

} // namespace load
