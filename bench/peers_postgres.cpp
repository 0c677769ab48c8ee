// sqlpool-bench-peers' PostgreSQL section (--postgres CONNINFO or --postgres-cluster): sqlpool's
// PostgreSQL pool side by side with what a libpq user would write instead, in the same run and
// with the same cell runner, tables and CSV as the SQLite sections (peers_common.hpp).
//
// Workloads (each at 1, 8 and 32 threads, 4 pooled connections):
//   pg_select — point SELECT by primary key on a table of 10,000 rows, random keys;
//   pg_insert — one row in its own transaction: postgres::write() for sqlpool, BEGIN / INSERT /
//               COMMIT for the others (the server's defaults: fsync on, synchronous_commit on).
// Contenders: sqlpool::postgres::pool with its default policies (query_value on a lease: the
// statement prepared once per connection and cached, text format); the limit: a dedicated PGconn
// per thread (so 32 connections at 32 threads), its statements PQprepare'd once and run with
// PQexecPrepared; a mutex+condvar vector pool of such connections; and PQconnectdb per operation
// with PQexecParams. Parameters and results travel as text everywhere, as sqlpool's do.
// The tables sqlpool_bench_kv and sqlpool_bench_ins are made, and dropped at the end, in the
// database the conninfo names.
#include <libpq-fe.h>
#include <unistd.h>

#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "peers_common.hpp"

import sqlpool.postgres;

namespace peers {
namespace {

namespace pg = sqlpool::postgres;

constexpr const char* select_sql = "SELECT v FROM sqlpool_bench_kv WHERE id = $1";
constexpr const char* insert_sql = "INSERT INTO sqlpool_bench_ins(v) VALUES ($1)";
constexpr const char* select_name = "bench_select";
constexpr const char* insert_name = "bench_insert";

// ---- raw libpq, for the hand-written contenders -------------------------------------------------

using result_ptr = std::unique_ptr<PGresult, decltype(&PQclear)>;

std::string trimmed(std::string text) {
    while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
    return text;
}

// The result, or runtime_error with the server's message when its status is not `want`.
result_ptr checked(PGconn* conn, PGresult* raw, ExecStatusType want, std::string_view what) {
    result_ptr res(raw, &PQclear);
    if (res == nullptr || PQresultStatus(res.get()) != want)
        throw std::runtime_error(
            std::string(what) + ": " +
            trimmed(res != nullptr ? PQresultErrorMessage(res.get()) : PQerrorMessage(conn)));
    return res;
}

PGconn* connect_raw(const std::string& conninfo) {
    PGconn* conn = PQconnectdb(conninfo.c_str());
    if (conn == nullptr) throw std::bad_alloc();
    if (PQstatus(conn) != CONNECTION_OK) {
        std::string message = trimmed(PQerrorMessage(conn));
        PQfinish(conn);
        throw std::runtime_error("could not connect: " + message);
    }
    return conn;
}

void exec_raw(PGconn* conn, const char* sql) {
    (void)checked(conn, PQexec(conn, sql), PGRES_COMMAND_OK, sql);
}

// An int64 parameter as text, without the heap.
class int_text {
public:
    explicit int_text(std::int64_t value) {
        *std::to_chars(text_, text_ + sizeof text_ - 1, value).ptr = '\0';
    }
    [[nodiscard]] const char* c_str() const noexcept { return text_; }

private:
    char text_[24]{};
};

std::int64_t only_value(const PGresult* res) {
    if (PQntuples(res) != 1 || PQnfields(res) != 1) throw std::runtime_error("not one value");
    const char* text = PQgetvalue(res, 0, 0);
    const auto length = static_cast<std::size_t>(PQgetlength(res, 0, 0));
    std::int64_t value = 0;
    const auto [end, ec] = std::from_chars(text, text + length, value);
    if (ec != std::errc{} || end != text + length) throw std::runtime_error("not an integer");
    return value;
}

// BEGIN; run(); COMMIT, rolled back when any of it fails.
template <class Insert>
void in_transaction(PGconn* conn, Insert run) {
    exec_raw(conn, "BEGIN");
    try {
        run();
        exec_raw(conn, "COMMIT");
    } catch (...) {
        if (PQtransactionStatus(conn) != PQTRANS_IDLE) PQclear(PQexec(conn, "ROLLBACK"));
        throw;
    }
}

// One connection with its statements prepared once (PQprepare), run with PQexecPrepared.
struct prepared_session {
    explicit prepared_session(const std::string& conninfo) : conn(connect_raw(conninfo)) {
        try {
            (void)checked(conn, PQprepare(conn, select_name, select_sql, 1, nullptr), PGRES_COMMAND_OK,
                          select_sql);
            (void)checked(conn, PQprepare(conn, insert_name, insert_sql, 1, nullptr), PGRES_COMMAND_OK,
                          insert_sql);
        } catch (...) {
            PQfinish(conn);
            throw;
        }
    }
    prepared_session(const prepared_session&) = delete;
    prepared_session& operator=(const prepared_session&) = delete;
    ~prepared_session() { PQfinish(conn); }

    std::int64_t point_select(std::int64_t id) {
        const int_text id_text(id);
        const char* values[] = {id_text.c_str()};
        const auto res = checked(conn, PQexecPrepared(conn, select_name, 1, values, nullptr, nullptr, 0),
                                 PGRES_TUPLES_OK, select_sql);
        return only_value(res.get());
    }
    void insert_row(std::int64_t v) {
        const int_text value(v);
        const char* values[] = {value.c_str()};
        in_transaction(conn, [&] {
            (void)checked(conn, PQexecPrepared(conn, insert_name, 1, values, nullptr, nullptr, 0),
                          PGRES_COMMAND_OK, insert_sql);
        });
    }

    PGconn* conn;
};

// ---- contenders ---------------------------------------------------------------------------------
// As in peers.cpp: built once per cell; make_local() per thread before the clock starts;
// select(local&, id), insert(local&, v), extra().

struct pg_limit {
    static constexpr const char* key = "limit";
    static constexpr const char* label = "the limit: 1 PGconn/thread, PQprepare once";
    explicit pg_limit(const std::string& conninfo) : conninfo(conninfo) {}
    using local = std::unique_ptr<prepared_session>;
    local make_local() const { return std::make_unique<prepared_session>(conninfo); }
    static std::int64_t select(local& c, std::int64_t id) { return c->point_select(id); }
    static void insert(local& c, std::int64_t v) { c->insert_row(v); }
    static extra_counts extra() { return {}; }
    std::string conninfo;
};

// sqlpool through its public API: acquire() + query_value() on the lease; postgres::write() for inserts.
struct pg_sqlpool {
    static constexpr const char* key = "sqlpool-default";
    static constexpr const char* label = "sqlpool::postgres::pool (default policies)";
    explicit pg_sqlpool(const std::string& conninfo)
        : pool(sqlpool::pool_config{.database = conninfo,
                                    .min_connections = pooled_connections,
                                    .max_connections = pooled_connections}) {}
    struct local {};
    static local make_local() { return {}; }
    std::int64_t select(local&, std::int64_t id) {
        auto lease = pool.acquire();
        return lease->query_value<std::int64_t>(select_sql, id);
    }
    void insert(local&, std::int64_t v) {
        pg::write(pool, [&](pg::connection& conn) { conn.exec(insert_sql, v); });
    }
    // postgres::write() retries serialization failures and lost connections, neither of which a
    // single-row insert at READ COMMITTED meets; the pool's stats do not count them.
    static extra_counts extra() { return {}; }
    pg::pool pool;
};

struct pg_mutex_pool {
    static constexpr const char* key = "mutex-pool-cached";
    static constexpr const char* label = "mutex+condvar vector pool, PQprepare once";
    explicit pg_mutex_pool(const std::string& conninfo) : pool(pooled_connections, conninfo) {}
    struct local {};
    static local make_local() { return {}; }
    std::int64_t select(local&, std::int64_t id) {
        const mutex_vector_pool<prepared_session>::guard c(pool);
        return c->point_select(id);
    }
    void insert(local&, std::int64_t v) {
        const mutex_vector_pool<prepared_session>::guard c(pool);
        c->insert_row(v);
    }
    static extra_counts extra() { return {}; }
    mutex_vector_pool<prepared_session> pool;
};

// No pool: PQconnectdb, the statement with PQexecParams (unnamed, parsed each time), PQfinish.
struct pg_open_per_operation {
    static constexpr const char* key = "open-per-op";
    static constexpr const char* label = "open a connection per operation";
    explicit pg_open_per_operation(const std::string& conninfo) : conninfo(conninfo) {}
    struct local {};
    static local make_local() { return {}; }
    struct handle {
        explicit handle(const std::string& conninfo) : conn(connect_raw(conninfo)) {}
        handle(const handle&) = delete;
        handle& operator=(const handle&) = delete;
        ~handle() { PQfinish(conn); }
        PGconn* conn;
    };
    std::int64_t select(local&, std::int64_t id) const {
        const handle h(conninfo);
        const int_text id_text(id);
        const char* values[] = {id_text.c_str()};
        const auto res =
            checked(h.conn, PQexecParams(h.conn, select_sql, 1, nullptr, values, nullptr, nullptr, 0),
                    PGRES_TUPLES_OK, select_sql);
        return only_value(res.get());
    }
    void insert(local&, std::int64_t v) const {
        const handle h(conninfo);
        const int_text value(v);
        const char* values[] = {value.c_str()};
        in_transaction(h.conn, [&] {
            (void)checked(h.conn, PQexecParams(h.conn, insert_sql, 1, nullptr, values, nullptr, nullptr, 0),
                          PGRES_COMMAND_OK, insert_sql);
        });
    }
    static extra_counts extra() { return {}; }
    std::string conninfo;
};

constexpr table_row rows[] = {
    {pg_limit::key, pg_limit::label},
    {pg_sqlpool::key, pg_sqlpool::label},
    {pg_mutex_pool::key, pg_mutex_pool::label},
    {pg_open_per_operation::key, pg_open_per_operation::label},
};

// ---- the server and its tables ------------------------------------------------------------------

// A throw-away primary from tests/postgres/pg-cluster (its standby is stopped at once: the
// benchmark does not use it, and it would share the two cores), stopped and removed at the end.
class cluster {
public:
    cluster() {
        char pattern[] = "/tmp/sqlpool-bench-pg.XXXXXX";
        if (::mkdtemp(pattern) == nullptr) throw std::runtime_error("mkdtemp failed");
        state_ = pattern;
        std::fprintf(stderr, "starting a PostgreSQL cluster with %s (state in %s)\n", script, state_.c_str());
        try {
            run("start", " >/dev/null");
            run("stop-server", " standby");
            std::ifstream in(state_ + "/primary.conninfo");
            if (!std::getline(in, conninfo_))
                throw std::runtime_error("pg-cluster wrote no primary.conninfo");
            // No TLS and no GSS negotiation on loopback: each would add a round trip to every connect.
            conninfo_ += " sslmode=disable gssencmode=disable";
        } catch (...) {
            stop();
            throw;
        }
    }
    cluster(const cluster&) = delete;
    cluster& operator=(const cluster&) = delete;
    ~cluster() { stop(); }
    [[nodiscard]] const std::string& conninfo() const noexcept { return conninfo_; }

private:
    static constexpr const char* script = SQLPOOL_BENCH_PG_CLUSTER;
    void run(std::string_view verb, std::string_view rest) const {
        const std::string command =
            "'" + std::string(script) + "' " + std::string(verb) + " '" + state_ + "'" + std::string(rest);
        if (std::system(command.c_str()) != 0) throw std::runtime_error("failed: " + command);
    }
    void stop() noexcept {
        try {
            run("stop", "");
        } catch (const std::exception& e) {
            std::fprintf(stderr, "%s\n", e.what());
        }
        std::error_code ignored;
        std::filesystem::remove_all(state_, ignored);
    }
    std::string state_;
    std::string conninfo_;
};

void make_tables(PGconn* admin) {
    exec_raw(admin, "SET client_min_messages = warning");
    exec_raw(admin, "DROP TABLE IF EXISTS sqlpool_bench_kv, sqlpool_bench_ins");
    exec_raw(admin, "CREATE TABLE sqlpool_bench_kv(id bigint PRIMARY KEY, v bigint NOT NULL)");
    exec_raw(admin, ("INSERT INTO sqlpool_bench_kv SELECT g, 3 * g + 1 FROM generate_series(1, " +
                     std::to_string(table_rows) + ") g")
                        .c_str());
    exec_raw(admin, "CREATE TABLE sqlpool_bench_ins(id bigserial PRIMARY KEY, v bigint NOT NULL)");
    exec_raw(admin, "VACUUM ANALYZE sqlpool_bench_kv");
}

// ---- the runner ---------------------------------------------------------------------------------

template <class C>
cell_result run_cell(const std::string& conninfo, PGconn* admin, workload w, int threads,
                     const options& opt) {
    auto result = cell_result::make(std::string("pg_") + to_string(w), C::key, threads, pooled_connections);
    exec_raw(admin, "TRUNCATE sqlpool_bench_ins"); // every cell starts from an empty insert table
    measure_contender<C>(result, opt, conninfo,
                         [&](C& contender, typename C::local& local, key_stream& keys, std::uint64_t n) {
                             if (w == workload::insert) {
                                 contender.insert(local, static_cast<std::int64_t>(n));
                                 return true;
                             }
                             const std::int64_t id = keys.next();
                             return contender.select(local, id) == 3 * id + 1;
                         });
    return result;
}

using cell_runner = cell_result (*)(const std::string&, PGconn*, workload, int, const options&);
struct contender_entry {
    const char* key;
    cell_runner run;
};
constexpr contender_entry contenders[] = {
    {pg_limit::key, &run_cell<pg_limit>},
    {pg_sqlpool::key, &run_cell<pg_sqlpool>},
    {pg_mutex_pool::key, &run_cell<pg_mutex_pool>},
    {pg_open_per_operation::key, &run_cell<pg_open_per_operation>},
};

std::string title(workload w) {
    if (w == workload::insert)
        return "PostgreSQL: single-row insert in its own transaction (sqlpool: postgres::write; others: "
               "BEGIN/INSERT/COMMIT) -- ops/s (ratio to the limit)";
    return "PostgreSQL: point SELECT by primary key, 10,000 rows -- ops/s (ratio to the limit)";
}

} // namespace

void run_postgres(const options& opt, std::vector<cell_result>& results, std::vector<verdict>& verdicts) {
    std::optional<cluster> own;
    std::string conninfo = opt.postgres;
    if (opt.postgres_cluster) conninfo = own.emplace().conninfo();
    PGconn* admin = connect_raw(conninfo);
    const std::unique_ptr<PGconn, decltype(&PQfinish)> admin_owner(admin, &PQfinish);
    make_tables(admin);
    std::printf("\nPostgreSQL section: server %d, libpq %d, on %s:%s; %zu pooled connections, the limit "
                "one connection per thread\n",
                PQserverVersion(admin), PQlibVersion(), PQhost(admin), PQport(admin), pooled_connections);
    try {
        for (const auto w : opt.workloads) {
            if (w == workload::acquire) continue;
            const std::string name = std::string("pg_") + to_string(w);
            for (const auto& c : contenders) {
                if (!selected(opt, c.key)) continue;
                for (const int t : opt.threads) {
                    std::fprintf(stderr, "  %-9s %-20s %2d thread(s) ...", name.c_str(), c.key, t);
                    results.push_back(c.run(conninfo, admin, w, t, opt));
                    std::fprintf(stderr, " %s/s\n", human(results.back().ops_per_sec).c_str());
                }
            }
            print_table(results, rows, name, title(w), opt);
        }
    } catch (...) {
        PQclear(PQexec(admin, "DROP TABLE IF EXISTS sqlpool_bench_kv, sqlpool_bench_ins"));
        throw;
    }
    PQclear(PQexec(admin, "DROP TABLE IF EXISTS sqlpool_bench_kv, sqlpool_bench_ins"));

    bool any = false, met = true;
    std::string detail;
    for (const int t : opt.threads) {
        const auto* r = find_cell(results, "pg_select", pg_sqlpool::key, t);
        if (r == nullptr) continue;
        const auto base = baseline(results, "pg_select", t);
        const std::optional<double> ratio =
            r->status == "ok" && base ? std::optional(r->ops_per_sec / *base) : std::nullopt;
        any = true;
        met = met && ratio && *ratio >= 0.9;
        detail += std::to_string(t) + "t " + (ratio ? fixed(*ratio, 2) : "?") + "  ";
    }
    if (any)
        verdicts.push_back({"PG point SELECT via sqlpool::postgres::pool >= 0.9x the limit", met, detail});
}

} // namespace peers
