// sqlpool-bench-peers: sqlpool side by side with what a C++ user would pick instead, in one process
// and one run, so that ratios are trustworthy on a noisy machine even when absolute numbers are not.
//
// Workloads (each at 1, 8 and 32 threads, 4 pooled connections, a WAL file database):
//   acquire — take a connection and give it back, no SQL;
//   select  — point SELECT by primary key on a table of 10,000 rows;
//   insert  — one row in its own BEGIN IMMEDIATE transaction (synchronous=NORMAL).
// Contenders: sqlpool with its default policies, with its fastest stock policies and with
// read_write_pool; a plain mutex+condvar vector pool with statements cached per connection, and
// the same preparing every statement per operation; SOCI's connection_pool and Poco's SessionPool
// when installed; opening a connection per operation; and the limit: one connection per thread
// with its statements prepared once. Each cell runs for --seconds after a short warm-up and
// reports operations per second; the table gives each contender's ratio to the limit (acquire:
// to the best peer, since the limit has nothing to acquire).
// Then P4 (acquire with 256 connections against 4) and P5 (the pool's own heap bytes per idle
// connection, from the counting operator new below).
#if defined(SQLPOOL_BENCH_HAVE_POCO)
#include <Poco/Data/DataException.h>
#include <Poco/Data/SQLite/Connector.h>
#include <Poco/Data/SQLite/SQLiteException.h>
#include <Poco/Data/Session.h>
#include <Poco/Data/SessionPool.h>
#endif
#include <sqlite3.h>
#if defined(SQLPOOL_BENCH_HAVE_SOCI)
// SOCI's SQLite header includes <sqlite3.h> inside namespace sqlite_api. With the real header
// already included (above, at global scope, as every other user of the C API needs it), its include
// guard turns that into nothing, so the four names SOCI uses are declared there by hand.
namespace sqlite_api {
using ::sqlite3;
using ::sqlite3_destructor_type;
using ::sqlite3_int64;
using ::sqlite3_stmt;
} // namespace sqlite_api
#include <soci/connection-pool.h>
#include <soci/soci.h>
#include <soci/sqlite3/soci-sqlite3.h>
#endif

#include <malloc.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <new>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "peers_common.hpp"

import sqlpool;

// ---- a counting global allocator (P5) -----------------------------------------------------------
// Counts the usable size of every C++ heap block while `counting` is on. SQLite allocates with
// malloc through its own allocator, never with operator new, so these counts hold sqlpool's (and
// the standard library's) bytes only; SQLite's own are read from sqlite3_memory_used().
namespace {
std::atomic<bool> counting{false};
std::atomic<std::int64_t> counted_bytes{0};
std::atomic<std::int64_t> counted_blocks{0};

void* counted_alloc(std::size_t size, std::size_t align) {
    void* p = nullptr;
    if (align <= alignof(std::max_align_t))
        p = std::malloc(size != 0 ? size : 1);
    else
        p = std::aligned_alloc(align, (std::max<std::size_t>(size, 1) + align - 1) / align * align);
    if (p == nullptr) throw std::bad_alloc();
    if (counting.load(std::memory_order_relaxed)) {
        counted_bytes.fetch_add(static_cast<std::int64_t>(malloc_usable_size(p)), std::memory_order_relaxed);
        counted_blocks.fetch_add(1, std::memory_order_relaxed);
    }
    return p;
}

void counted_free(void* p) noexcept {
    if (p == nullptr) return;
    if (counting.load(std::memory_order_relaxed)) {
        counted_bytes.fetch_sub(static_cast<std::int64_t>(malloc_usable_size(p)), std::memory_order_relaxed);
        counted_blocks.fetch_sub(1, std::memory_order_relaxed);
    }
    std::free(p);
}
} // namespace

void* operator new(std::size_t size) {
    return counted_alloc(size, 0);
}
void* operator new[](std::size_t size) {
    return counted_alloc(size, 0);
}
void* operator new(std::size_t size, std::align_val_t align) {
    return counted_alloc(size, static_cast<std::size_t>(align));
}
void* operator new[](std::size_t size, std::align_val_t align) {
    return counted_alloc(size, static_cast<std::size_t>(align));
}
void operator delete(void* p) noexcept {
    counted_free(p);
}
void operator delete[](void* p) noexcept {
    counted_free(p);
}
void operator delete(void* p, std::size_t) noexcept {
    counted_free(p);
}
void operator delete[](void* p, std::size_t) noexcept {
    counted_free(p);
}
void operator delete(void* p, std::align_val_t) noexcept {
    counted_free(p);
}
void operator delete[](void* p, std::align_val_t) noexcept {
    counted_free(p);
}
void operator delete(void* p, std::size_t, std::align_val_t) noexcept {
    counted_free(p);
}
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept {
    counted_free(p);
}

namespace {

using namespace peers;

constexpr int busy_timeout_ms = 2000;
constexpr const char* select_sql = "SELECT v FROM kv WHERE id = ?";
constexpr const char* insert_sql = "INSERT INTO ins(v) VALUES(?)";

const char* title(workload w) {
    switch (w) {
    case workload::acquire:
        return "acquire + release only (no SQL) -- ops/s (ratio to the best peer)";
    case workload::select:
        return "point SELECT by primary key, 10,000 rows -- ops/s (ratio to the limit)";
    case workload::insert:
        return "single-row BEGIN IMMEDIATE insert, synchronous=NORMAL -- ops/s (ratio to the limit)";
    }
    return "?";
}

// ---- raw SQLite, for the hand-written contenders ------------------------------------------------

[[noreturn]] void fail(sqlite3* db, int code, std::string_view what) {
    const std::string message =
        std::string(what) + ": " + (db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(code));
    if ((code & 0xff) == SQLITE_BUSY || (code & 0xff) == SQLITE_LOCKED) throw busy_failure(message);
    throw std::runtime_error(message);
}

sqlite3* open_raw(const std::string& path, int extra_flags = 0) {
    sqlite3* db = nullptr;
    const int code = sqlite3_open_v2(path.c_str(), &db,
                                     SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | extra_flags, nullptr);
    if (code != SQLITE_OK) {
        sqlite3_close_v2(db);
        fail(nullptr, code, "open " + path);
    }
    sqlite3_busy_timeout(db, busy_timeout_ms);
    return db;
}

void exec_raw(sqlite3* db, const char* sql) {
    const int code = sqlite3_exec(db, sql, nullptr, nullptr, nullptr);
    if (code != SQLITE_OK) fail(db, code, sql);
}

sqlite3_stmt* prepare_raw(sqlite3* db, const char* sql, bool persistent) {
    sqlite3_stmt* stmt = nullptr;
    const int code = sqlite3_prepare_v3(
        db, sql, -1, persistent ? static_cast<unsigned>(SQLITE_PREPARE_PERSISTENT) : 0u, &stmt, nullptr);
    if (code != SQLITE_OK) fail(db, code, sql);
    return stmt;
}

// Steps a statement that returns no row, then resets it.
void run_raw(sqlite3* db, sqlite3_stmt* stmt) {
    const int code = sqlite3_step(stmt);
    sqlite3_reset(stmt);
    if (code != SQLITE_DONE) fail(db, code, sqlite3_sql(stmt));
}

std::int64_t select_raw(sqlite3* db, sqlite3_stmt* stmt, std::int64_t id) {
    sqlite3_bind_int64(stmt, 1, id);
    const int code = sqlite3_step(stmt);
    if (code != SQLITE_ROW) {
        sqlite3_reset(stmt);
        fail(db, code == SQLITE_DONE ? SQLITE_ERROR : code, select_sql);
    }
    const std::int64_t v = sqlite3_column_int64(stmt, 0);
    sqlite3_reset(stmt);
    return v;
}

// BEGIN IMMEDIATE; INSERT; COMMIT with the given statements; rolls back on failure.
void insert_raw(sqlite3* db, sqlite3_stmt* begin, sqlite3_stmt* insert, sqlite3_stmt* commit,
                std::int64_t v) {
    run_raw(db, begin);
    try {
        sqlite3_bind_int64(insert, 1, v);
        run_raw(db, insert);
        run_raw(db, commit);
    } catch (...) {
        if (sqlite3_get_autocommit(db) == 0) sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
        throw;
    }
}

// One connection with its statements prepared once.
struct prepared_connection {
    explicit prepared_connection(const std::string& path) : db(open_raw(path)) {
        exec_raw(db, "PRAGMA synchronous=NORMAL");
        select = prepare_raw(db, select_sql, true);
        begin = prepare_raw(db, "BEGIN IMMEDIATE", true);
        insert = prepare_raw(db, insert_sql, true);
        commit = prepare_raw(db, "COMMIT", true);
    }
    prepared_connection(const prepared_connection&) = delete;
    prepared_connection& operator=(const prepared_connection&) = delete;
    ~prepared_connection() {
        for (sqlite3_stmt* stmt : {select, begin, insert, commit}) sqlite3_finalize(stmt);
        sqlite3_close_v2(db);
    }
    std::int64_t point_select(std::int64_t id) { return select_raw(db, select, id); }
    void insert_row(std::int64_t v) { insert_raw(db, begin, insert, commit, v); }

    sqlite3* db;
    sqlite3_stmt* select = nullptr;
    sqlite3_stmt* begin = nullptr;
    sqlite3_stmt* insert = nullptr;
    sqlite3_stmt* commit = nullptr;
};

// Prepares (and finalizes) every statement per operation.
std::int64_t select_unprepared(sqlite3* db, std::int64_t id) {
    sqlite3_stmt* stmt = prepare_raw(db, select_sql, false);
    try {
        const std::int64_t v = select_raw(db, stmt, id);
        sqlite3_finalize(stmt);
        return v;
    } catch (...) {
        sqlite3_finalize(stmt);
        throw;
    }
}

void insert_unprepared(sqlite3* db, std::int64_t v) {
    sqlite3_stmt* begin = prepare_raw(db, "BEGIN IMMEDIATE", false);
    sqlite3_stmt* insert = prepare_raw(db, insert_sql, false);
    sqlite3_stmt* commit = prepare_raw(db, "COMMIT", false);
    try {
        insert_raw(db, begin, insert, commit, v);
    } catch (...) {
        for (sqlite3_stmt* stmt : {begin, insert, commit}) sqlite3_finalize(stmt);
        throw;
    }
    for (sqlite3_stmt* stmt : {begin, insert, commit}) sqlite3_finalize(stmt);
}

// ---- contenders ---------------------------------------------------------------------------------
// Each contender is built once per cell (workload x threads) and has:
//   local make_local()            — per-thread state, made on the worker thread before the clock starts
//   void acquire_release(local&)  — workload::acquire
//   std::int64_t select(local&, id), void insert(local&, v)
//   supports(workload), extra()   — busy errors and retries it saw besides thrown errors

struct cell_setup {
    std::string database;
    workload work;
    int threads;
    std::size_t connections;
};

// The limit: one connection per thread, statements prepared once, no pool at all.
struct limit_contender {
    static constexpr const char* key = "limit";
    static constexpr const char* label = "the limit: 1 connection/thread, stmt prepared once";
    static bool supports(workload w) { return w != workload::acquire; }
    explicit limit_contender(const cell_setup& s) : path(s.database) {}
    using local = std::unique_ptr<prepared_connection>;
    local make_local() { return std::make_unique<prepared_connection>(path); }
    void acquire_release(local&) {}
    std::int64_t select(local& c, std::int64_t id) { return c->point_select(id); }
    void insert(local& c, std::int64_t v) { c->insert_row(v); }
    extra_counts extra() const { return {}; }
    std::string path;
};

// sqlpool through its public API: acquire() + query_value() on the lease; write() for inserts.
template <class Pool>
struct sqlpool_contender {
    static sqlpool::pool_config config(const cell_setup& s) {
        return sqlpool::pool_config{
            .database = s.database, .min_connections = s.connections, .max_connections = s.connections};
    }
    explicit sqlpool_contender(const cell_setup& s) : pool(config(s)) {}
    struct local {};
    local make_local() { return {}; }
    void acquire_release(local&) {
        auto lease = pool.acquire();
        if (!lease) throw std::logic_error("empty lease");
    }
    std::int64_t select(local&, std::int64_t id) {
        auto lease = pool.acquire();
        return lease->template query_value<std::int64_t>(select_sql, id);
    }
    void insert(local&, std::int64_t v) {
        pool.write([&](sqlpool::connection& conn) { conn.exec(insert_sql, v); });
    }
    extra_counts extra() const {
        const auto stats = pool.stats();
        return {stats.transactions.busy_surfaced, stats.transactions.retried};
    }
    Pool pool;
};

struct sqlpool_default : sqlpool_contender<sqlpool::pool> {
    static constexpr const char* key = "sqlpool-default";
    static constexpr const char* label = "sqlpool::pool (default policies)";
    static bool supports(workload) { return true; }
    using sqlpool_contender::sqlpool_contender;
};

using fastest_pool =
    sqlpool::basic_pool<sqlpool::locking::spin, sqlpool::health::no_check, sqlpool::recycling::never>;
struct sqlpool_fastest : sqlpool_contender<fastest_pool> {
    static constexpr const char* key = "sqlpool-fastest";
    static constexpr const char* label = "sqlpool spin/no_check/never";
    static bool supports(workload) { return true; }
    using sqlpool_contender::sqlpool_contender;
};

using split_pool = sqlpool::read_write_pool<>;
struct sqlpool_split : sqlpool_contender<split_pool> {
    static constexpr const char* key = "sqlpool-split";
    static constexpr const char* label = "sqlpool read_write_pool (1 writer + 3)";
    static bool supports(workload) { return true; }
    using sqlpool_contender::sqlpool_contender;
};

using sqlite_mutex_pool = mutex_vector_pool<prepared_connection>;

struct mutex_pool_cached {
    static constexpr const char* key = "mutex-pool-cached";
    static constexpr const char* label = "mutex+condvar vector pool, stmt cached";
    static bool supports(workload) { return true; }
    explicit mutex_pool_cached(const cell_setup& s) : pool(s.connections, s.database) {}
    struct local {};
    local make_local() { return {}; }
    void acquire_release(local&) { const sqlite_mutex_pool::guard c(pool); }
    std::int64_t select(local&, std::int64_t id) {
        const sqlite_mutex_pool::guard c(pool);
        return c->point_select(id);
    }
    void insert(local&, std::int64_t v) {
        const sqlite_mutex_pool::guard c(pool);
        c->insert_row(v);
    }
    extra_counts extra() const { return {}; }
    sqlite_mutex_pool pool;
};

struct mutex_pool_prepare {
    static constexpr const char* key = "mutex-pool-prepare";
    static constexpr const char* label = "mutex+condvar vector pool, stmt per op";
    static bool supports(workload w) { return w != workload::acquire; } // same as mutex-pool-cached
    explicit mutex_pool_prepare(const cell_setup& s) : pool(s.connections, s.database) {}
    struct local {};
    local make_local() { return {}; }
    void acquire_release(local&) {}
    std::int64_t select(local&, std::int64_t id) {
        const sqlite_mutex_pool::guard c(pool);
        return select_unprepared(c->db, id);
    }
    void insert(local&, std::int64_t v) {
        const sqlite_mutex_pool::guard c(pool);
        insert_unprepared(c->db, v);
    }
    extra_counts extra() const { return {}; }
    sqlite_mutex_pool pool;
};

// No pool: sqlite3_open_v2 + busy timeout, the operation, sqlite3_close.
struct open_per_operation {
    static constexpr const char* key = "open-per-op";
    static constexpr const char* label = "open a connection per operation";
    static bool supports(workload) { return true; }
    explicit open_per_operation(const cell_setup& s) : path(s.database) {}
    struct local {};
    local make_local() { return {}; }
    struct handle {
        explicit handle(const std::string& p) : db(open_raw(p)) {}
        handle(const handle&) = delete;
        handle& operator=(const handle&) = delete;
        ~handle() { sqlite3_close_v2(db); }
        sqlite3* db;
    };
    void acquire_release(local&) { const handle h(path); }
    std::int64_t select(local&, std::int64_t id) {
        const handle h(path);
        return select_unprepared(h.db, id);
    }
    void insert(local&, std::int64_t v) {
        const handle h(path);
        exec_raw(h.db, "PRAGMA synchronous=NORMAL");
        insert_unprepared(h.db, v);
    }
    extra_counts extra() const { return {}; }
    std::string path;
};

#if defined(SQLPOOL_BENCH_HAVE_SOCI)
// SOCI's connection_pool: sessions opened up front; one soci::session per operation, whose
// one-time statements are prepared on every use. Acquire alone uses lease()/give_back() directly,
// SOCI's cheapest path.
struct soci_contender {
    static constexpr const char* key = "soci";
    static constexpr const char* label = "SOCI connection_pool, session per op";
    static bool supports(workload) { return true; }
    explicit soci_contender(const cell_setup& s) : pool(s.connections) {
        for (std::size_t i = 0; i < s.connections; ++i) {
            soci::session& session = pool.at(i);
            session.open(soci::sqlite3,
                         "db=" + s.database + " timeout=" + std::to_string(busy_timeout_ms / 1000));
            session << "PRAGMA synchronous=NORMAL";
        }
    }
    struct local {};
    local make_local() { return {}; }
    void acquire_release(local&) { pool.give_back(pool.lease()); }
    std::int64_t select(local&, std::int64_t id) {
        soci::session session(pool);
        long long v = 0;
        long long key_value = id;
        session << select_sql, soci::into(v), soci::use(key_value);
        return v;
    }
    void insert(local&, std::int64_t v) {
        soci::session session(pool);
        long long value = v;
        try {
            session << "BEGIN IMMEDIATE";
            session << insert_sql, soci::use(value);
            session << "COMMIT";
        } catch (const soci::sqlite3_soci_error& e) {
            try {
                session << "ROLLBACK";
            } catch (...) {
            }
            if ((e.result() & 0xff) == SQLITE_BUSY || (e.result() & 0xff) == SQLITE_LOCKED)
                throw busy_failure(e.what());
            throw;
        }
    }
    extra_counts extra() const { return {}; }
    soci::connection_pool pool;
};
#endif

#if defined(SQLPOOL_BENCH_HAVE_POCO)
// Poco::Data::SessionPool never waits: get() throws SessionPoolExhaustedException when every
// session is out, and the caller retries (yielding first). Sessions are opened (and set up) by a
// warm-up before the clock starts; statements are prepared on every use.
struct poco_contender {
    static constexpr const char* key = "poco";
    static constexpr const char* label = "Poco SessionPool (throws when exhausted)";
    static bool supports(workload) { return true; }
    explicit poco_contender(const cell_setup& s)
        : pool("SQLite", s.database, 1, static_cast<int>(s.connections), 600) {
        std::vector<Poco::Data::Session> warm;
        for (std::size_t i = 0; i < s.connections; ++i) {
            warm.push_back(pool.get());
            warm.back().setConnectionTimeout(busy_timeout_ms / 1000);
            warm.back() << "PRAGMA synchronous=NORMAL", Poco::Data::Keywords::now;
        }
    }
    struct local {};
    local make_local() { return {}; }
    Poco::Data::Session get() {
        while (true) {
            try {
                return pool.get();
            } catch (const Poco::Data::SessionPoolExhaustedException&) {
                std::this_thread::yield();
            }
        }
    }
    void acquire_release(local&) { const Poco::Data::Session session = get(); }
    std::int64_t select(local&, std::int64_t id) {
        using namespace Poco::Data::Keywords;
        Poco::Data::Session session = get();
        Poco::Int64 v = 0;
        Poco::Int64 key_value = id;
        session << select_sql, into(v), use(key_value), now;
        return v;
    }
    void insert(local&, std::int64_t v) {
        using namespace Poco::Data::Keywords;
        Poco::Data::Session session = get();
        Poco::Int64 value = v;
        try {
            session << "BEGIN IMMEDIATE", now;
            session << insert_sql, use(value), now;
            session << "COMMIT", now;
        } catch (const Poco::Data::SQLite::DBLockedException& e) {
            rollback(session);
            throw busy_failure(e.displayText());
        } catch (const Poco::Data::SQLite::TableLockedException& e) {
            rollback(session);
            throw busy_failure(e.displayText());
        } catch (...) {
            rollback(session);
            throw;
        }
    }
    static void rollback(Poco::Data::Session& session) {
        try {
            if (session.isTransaction()) session << "ROLLBACK", Poco::Data::Keywords::now;
        } catch (...) {
        }
    }
    extra_counts extra() const { return {}; }
    Poco::Data::SessionPool pool;
};
#endif

// ---- the runner ---------------------------------------------------------------------------------

// Puts the WAL back into the database file, so every cell starts from the same state.
void checkpoint(const std::string& path) {
    sqlite3* db = open_raw(path);
    sqlite3_exec(db, "PRAGMA wal_checkpoint(TRUNCATE)", nullptr, nullptr, nullptr);
    sqlite3_close_v2(db);
}

template <class C>
cell_result run_cell(const cell_setup& setup, const options& opt) {
    auto result = cell_result::make(to_string(setup.work), C::key, setup.threads, setup.connections);
    checkpoint(setup.database);
    measure_contender<C>(result, opt, setup,
                         [&](C& contender, typename C::local& local, key_stream& keys, std::uint64_t n) {
                             try {
                                 switch (setup.work) {
                                 case workload::acquire:
                                     contender.acquire_release(local);
                                     return true;
                                 case workload::select: {
                                     const std::int64_t id = keys.next();
                                     return contender.select(local, id) == 3 * id + 1;
                                 }
                                 case workload::insert:
                                     contender.insert(local, static_cast<std::int64_t>(n));
                                     return true;
                                 }
                                 return true;
                             } catch (const sqlpool::busy_error& e) {
                                 throw busy_failure(e.what());
                             }
                         });
    return result;
}

// Every contender by key, in table order; absent ones run as "skipped".
struct contender_entry {
    const char* key;
    const char* label;
    bool installed;
    std::function<bool(workload)> supports;
    std::function<cell_result(const cell_setup&, const options&)> run;
};

template <class C>
contender_entry entry() {
    return {C::key, C::label, true, [](workload w) { return C::supports(w); },
            [](const cell_setup& s, const options& o) { return run_cell<C>(s, o); }};
}

[[maybe_unused]] contender_entry missing(const char* key, const char* label) {
    return {key, label, false, [](workload) { return true; }, nullptr};
}

std::vector<contender_entry> contenders() {
    std::vector<contender_entry> list;
    list.push_back(entry<limit_contender>());
    list.push_back(entry<sqlpool_default>());
    list.push_back(entry<sqlpool_fastest>());
    list.push_back(entry<sqlpool_split>());
    list.push_back(entry<mutex_pool_cached>());
    list.push_back(entry<mutex_pool_prepare>());
#if defined(SQLPOOL_BENCH_HAVE_SOCI)
    list.push_back(entry<soci_contender>());
#else
    list.push_back(missing("soci", "SOCI connection_pool, session per op"));
#endif
#if defined(SQLPOOL_BENCH_HAVE_POCO)
    list.push_back(entry<poco_contender>());
#else
    list.push_back(missing("poco", "Poco SessionPool (throws when exhausted)"));
#endif
    list.push_back(entry<open_per_operation>());
    return list;
}

// ---- the database -------------------------------------------------------------------------------

void make_database(const std::string& path) {
    std::filesystem::remove(path);
    sqlite3* db = open_raw(path, SQLITE_OPEN_CREATE);
    exec_raw(db, "PRAGMA journal_mode=WAL");
    exec_raw(db, "CREATE TABLE kv(id INTEGER PRIMARY KEY, v INTEGER NOT NULL);"
                 "CREATE TABLE ins(id INTEGER PRIMARY KEY, v INTEGER NOT NULL);"
                 "BEGIN");
    sqlite3_stmt* stmt = prepare_raw(db, "INSERT INTO kv(id, v) VALUES(?, ?)", false);
    for (std::int64_t id = 1; id <= table_rows; ++id) {
        sqlite3_bind_int64(stmt, 1, id);
        sqlite3_bind_int64(stmt, 2, 3 * id + 1);
        run_raw(db, stmt);
    }
    sqlite3_finalize(stmt);
    exec_raw(db, "COMMIT");
    sqlite3_close_v2(db);
}

} // namespace

// ---- output (shared with peers_postgres.cpp) ----------------------------------------------------

namespace peers {

namespace {
bool is_peer(std::string_view key) {
    return !key.starts_with("sqlpool") && key != "limit";
}
} // namespace

std::string human(double ops) {
    char buffer[32];
    if (ops >= 1e6)
        std::snprintf(buffer, sizeof buffer, "%.2fM", ops / 1e6);
    else if (ops >= 1e3)
        std::snprintf(buffer, sizeof buffer, "%.1fk", ops / 1e3);
    else
        std::snprintf(buffer, sizeof buffer, "%.0f", ops);
    return buffer;
}

std::string fixed(double value, int digits) {
    char buffer[32];
    std::snprintf(buffer, sizeof buffer, "%.*f", digits, value);
    return buffer;
}

const cell_result* find_cell(const std::vector<cell_result>& results, std::string_view workload_name,
                             std::string_view key, int threads, std::size_t connections) {
    for (const auto& r : results)
        if (r.workload_name == workload_name && r.key == key && r.threads == threads &&
            r.connections == connections)
            return &r;
    return nullptr;
}

std::optional<double> baseline(const std::vector<cell_result>& results, std::string_view workload_name,
                               int threads) {
    if (workload_name != to_string(workload::acquire)) {
        const auto* limit = find_cell(results, workload_name, "limit", threads);
        if (limit == nullptr || limit->status != "ok" || limit->ops_per_sec <= 0) return std::nullopt;
        return limit->ops_per_sec;
    }
    double best = 0;
    for (const auto& r : results)
        if (r.workload_name == workload_name && r.threads == threads && r.connections == pooled_connections &&
            r.status == "ok" && is_peer(r.key))
            best = std::max(best, r.ops_per_sec);
    if (best <= 0) return std::nullopt;
    return best;
}

void print_table(const std::vector<cell_result>& results, std::span<const table_row> rows,
                 std::string_view workload_name, std::string_view title, const options& opt) {
    std::printf("\n== %.*s\n", static_cast<int>(title.size()), title.data());
    std::printf("%-52s", "contender");
    for (const int t : opt.threads)
        std::printf("  %24s", (std::to_string(t) + (t == 1 ? " thread" : " threads")).c_str());
    std::printf("\n");
    for (const auto& c : rows) {
        bool any = false;
        std::string line;
        char cell[64];
        std::snprintf(cell, sizeof cell, "%-52s", c.label);
        line += cell;
        for (const int t : opt.threads) {
            const auto* r = find_cell(results, workload_name, c.key, t);
            std::string text;
            if (r == nullptr) {
                text = "";
            } else if (r->status == "skipped") {
                text = "skipped (not installed)";
            } else if (r->status == "n/a") {
                text = "n/a";
            } else if (r->status != "ok") {
                text = "FAILED";
            } else {
                const auto base = baseline(results, workload_name, t);
                text = human(r->ops_per_sec) + (base ? " (" + fixed(r->ops_per_sec / *base, 2) + ")" : "");
                if (r->errors + r->busy != 0) text += " E" + std::to_string(r->errors + r->busy);
            }
            if (r != nullptr) any = true;
            std::snprintf(cell, sizeof cell, "  %24s", text.c_str());
            line += cell;
        }
        if (any) std::printf("%s\n", line.c_str());
    }
    for (const auto& r : results)
        if (r.workload_name == workload_name && r.status == "failed")
            std::printf("   %s at %d threads failed: %s\n", r.key.c_str(), r.threads, r.note.c_str());
}

} // namespace peers

namespace {

void print_table(const std::vector<cell_result>& results, const std::vector<contender_entry>& list,
                 workload w, const options& opt) {
    std::vector<table_row> rows;
    for (const auto& c : list) rows.push_back({c.key, c.label});
    peers::print_table(results, rows, to_string(w), title(w), opt);
}

void write_csv(const std::string& file, const std::vector<cell_result>& results) {
    std::ofstream out(file);
    out << "workload,contender,threads,connections,status,ops_per_sec,ratio,ratio_to,errors,busy_surfaced,"
           "busy_retried\n";
    for (const auto& r : results) {
        std::string ratio, ratio_to;
        if (r.status == "ok" && r.connections == pooled_connections) {
            // P4's rows (p4_acquire) have their ratio to acquire's best peer.
            const std::string_view name = r.workload_name == "p4_acquire" ? std::string_view("acquire")
                                                                          : std::string_view(r.workload_name);
            if (const auto base = baseline(results, name, r.threads)) {
                ratio = fixed(r.ops_per_sec / *base, 4);
                ratio_to = name == to_string(workload::acquire) ? "best_peer" : "limit";
            }
        }
        out << r.workload_name << ',' << r.key << ',' << r.threads << ',' << r.connections << ',' << r.status
            << ',' << (r.status == "ok" ? fixed(r.ops_per_sec, 1) : "") << ',' << ratio << ',' << ratio_to
            << ',' << r.errors << ',' << r.busy << ',' << r.busy_retried << '\n';
    }
}

// ---- P5: the pool's own bytes per idle connection -------------------------------------------------

struct heap_snapshot {
    std::int64_t cxx_bytes;
    std::int64_t sqlite_bytes;
};

heap_snapshot snapshot() {
    return {counted_bytes.load(), static_cast<std::int64_t>(sqlite3_memory_used())};
}

// Heap bytes (C++ and SQLite) held by `n` idle connections inside a pool of type Pool.
template <class Pool>
heap_snapshot pool_bytes(const std::string& path, std::size_t n) {
    const auto before = snapshot();
    auto config = sqlpool::pool_config{
        .database = path, .min_connections = n, .max_connections = n, .background_maintenance = false};
    const auto after_config = snapshot(); // the config's own strings are not the pool's
    Pool pool(std::move(config));
    const auto after = snapshot();
    if (pool.stats().idle != n) throw std::runtime_error("pool did not open its connections");
    return {after.cxx_bytes - after_config.cxx_bytes, after.sqlite_bytes - before.sqlite_bytes};
}

// Heap bytes held by `n` bare sqlpool::connection objects opened the same way (their handles,
// statement caches and option strings), not counting the storage of the connection objects.
heap_snapshot connection_bytes(const std::string& path, std::size_t n) {
    const auto options = sqlpool::pool_config{.database = path}.connection_options();
    std::vector<std::optional<sqlpool::connection>> connections(n);
    const auto before = snapshot();
    for (auto& c : connections) c.emplace(options);
    const auto after = snapshot();
    return {after.cxx_bytes - before.cxx_bytes, after.sqlite_bytes - before.sqlite_bytes};
}

struct p5_result {
    double pool_cxx_per_connection = 0;       // the pool's own bytes per idle connection
    double connection_cxx_per_connection = 0; // sqlpool::connection's own C++ bytes
    double sqlite_per_connection = 0;         // SQLite's bytes per connection
    double pooled_total_cxx_per_connection = 0;
};

template <class Pool>
p5_result measure_memory(const std::string& path) {
    constexpr std::size_t small = 16, large = 256;
    counting.store(true);
    const auto pool_small = pool_bytes<Pool>(path, small);
    const auto pool_large = pool_bytes<Pool>(path, large);
    const auto bare_small = connection_bytes(path, small);
    const auto bare_large = connection_bytes(path, large);
    counting.store(false);
    constexpr double span = static_cast<double>(large - small);
    p5_result r;
    r.pooled_total_cxx_per_connection =
        static_cast<double>(pool_large.cxx_bytes - pool_small.cxx_bytes) / span;
    r.connection_cxx_per_connection = static_cast<double>(bare_large.cxx_bytes - bare_small.cxx_bytes) / span;
    r.pool_cxx_per_connection = r.pooled_total_cxx_per_connection - r.connection_cxx_per_connection;
    r.sqlite_per_connection = static_cast<double>(pool_large.sqlite_bytes - pool_small.sqlite_bytes) / span;
    return r;
}

// ---- main ---------------------------------------------------------------------------------------

[[noreturn]] void usage(int status) {
    std::printf(
        "usage: sqlpool-bench-peers [--seconds S] [--warmup S] [--operations N] [--threads 1,8,32]\n"
        "                           [--workloads acquire,select,insert] [--only KEY,...] [--csv FILE]\n"
        "                           [--no-p4] [--no-p5] [--no-sqlite] [--postgres CONNINFO | "
        "--postgres-cluster]\n"
        "contender keys: limit sqlpool-default sqlpool-fastest sqlpool-split mutex-pool-cached "
        "mutex-pool-prepare\n"
        "                soci poco open-per-op (PostgreSQL: limit sqlpool-default mutex-pool-cached "
        "open-per-op)\n"
        "--operations N       each thread runs N operations instead of --seconds, no warm-up "
        "(callgrind)\n"
        "--no-sqlite          skip the SQLite tables, P4 and P5\n"
        "--postgres CONNINFO  add the PostgreSQL section (select and insert) against this libpq "
        "conninfo;\n"
        "                     it makes and drops the tables sqlpool_bench_kv and sqlpool_bench_ins "
        "there\n"
        "--postgres-cluster   the same against a throw-away server that tests/postgres/pg-cluster "
        "starts\n"
        "                     (primary only, loopback TCP) and stops\n");
#if !defined(SQLPOOL_BENCH_HAVE_POSTGRES)
    std::printf("(this build has no sqlpool.postgres: the PostgreSQL flags fail)\n");
#endif
    std::exit(status);
}

std::vector<std::string> split_list(std::string_view text) {
    std::vector<std::string> items;
    while (!text.empty()) {
        const auto comma = text.find(',');
        items.emplace_back(text.substr(0, comma));
        if (comma == std::string_view::npos) break;
        text.remove_prefix(comma + 1);
    }
    return items;
}

double parse_seconds(std::string_view flag, const std::string& text) {
    char* end = nullptr;
    const double value = std::strtod(text.c_str(), &end);
    if (end == text.c_str() || *end != '\0' || !(value > 0) || value > 3600) {
        std::fprintf(stderr, "%.*s: '%s' is not a number of seconds\n", static_cast<int>(flag.size()),
                     flag.data(), text.c_str());
        usage(2);
    }
    return value;
}

options parse(int argc, char** argv) {
    options opt;
    bool warmup_set = false;
    for (int i = 1; i < argc; ++i) {
        const std::string_view flag = argv[i];
        const auto value = [&]() -> std::string {
            if (i + 1 >= argc) {
                std::fprintf(stderr, "%s needs a value\n", argv[i]);
                usage(2);
            }
            return argv[++i];
        };
        if (flag == "--help" || flag == "-h") {
            usage(0);
        } else if (flag == "--seconds") {
            opt.seconds = parse_seconds(flag, value());
        } else if (flag == "--warmup") {
            opt.warmup = parse_seconds(flag, value());
            warmup_set = true;
        } else if (flag == "--threads") {
            opt.threads.clear();
            for (const auto& item : split_list(value())) {
                int t = 0;
                const auto [end, ec] = std::from_chars(item.data(), item.data() + item.size(), t);
                if (ec != std::errc{} || end != item.data() + item.size() || t < 1 || t > 1024) {
                    std::fprintf(stderr, "--threads: '%s' is not a thread count\n", item.c_str());
                    usage(2);
                }
                opt.threads.push_back(t);
            }
        } else if (flag == "--workloads") {
            opt.workloads.clear();
            for (const auto& item : split_list(value())) {
                bool known = false;
                for (const auto w : all_workloads)
                    if (item == to_string(w)) {
                        opt.workloads.push_back(w);
                        known = true;
                    }
                if (!known) {
                    std::fprintf(stderr, "--workloads: unknown workload '%s'\n", item.c_str());
                    usage(2);
                }
            }
        } else if (flag == "--only") {
            opt.only = split_list(value());
        } else if (flag == "--csv") {
            opt.csv = value();
        } else if (flag == "--no-p4") {
            opt.p4 = false;
        } else if (flag == "--no-p5") {
            opt.p5 = false;
        } else if (flag == "--no-sqlite") {
            opt.sqlite = false;
        } else if (flag == "--operations") {
            const std::string text = value();
            const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), opt.operations);
            if (ec != std::errc{} || end != text.data() + text.size() || opt.operations == 0) {
                std::fprintf(stderr, "--operations: '%s' is not a positive count\n", text.c_str());
                usage(2);
            }
        } else if (flag == "--postgres") {
            opt.postgres = value();
        } else if (flag == "--postgres-cluster") {
            opt.postgres_cluster = true;
        } else {
            std::fprintf(stderr, "unknown flag '%s'\n", argv[i]);
            usage(2);
        }
    }
    if (!warmup_set) opt.warmup = std::min(0.25, opt.seconds / 4);
    if (!opt.sqlite) opt.p4 = opt.p5 = false;
    if (!opt.postgres.empty() && opt.postgres_cluster) {
        std::fprintf(stderr, "--postgres and --postgres-cluster: one or the other\n");
        usage(2);
    }
#if !defined(SQLPOOL_BENCH_HAVE_POSTGRES)
    if (!opt.postgres.empty() || opt.postgres_cluster) {
        std::fprintf(stderr, "this sqlpool-bench-peers was built without sqlpool.postgres "
                             "(configure with SQLPOOL_WITH_POSTGRES=ON and libpq-dev installed)\n");
        std::exit(2);
    }
#endif
    return opt;
}

void raise_file_limit() {
    rlimit limit{};
    if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
        limit.rlim_cur = limit.rlim_max;
        setrlimit(RLIMIT_NOFILE, &limit);
    }
}

} // namespace

int main(int argc, char** argv) {
    const options opt = parse(argc, argv);
    raise_file_limit();
#if defined(SQLPOOL_BENCH_HAVE_POCO)
    Poco::Data::SQLite::Connector::registerConnector();
#endif
    const auto dir =
        std::filesystem::temp_directory_path() / ("sqlpool-bench-peers-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    const std::string path = (dir / "peers.db").string();
    int status = 0;
    try {
        if (opt.sqlite) make_database(path);
        const auto list = contenders();
        std::vector<cell_result> results;
        std::printf("sqlpool-bench-peers: %.2f s per cell after %.2f s warm-up, %zu pooled connections, "
                    "SQLite %s, %u hardware threads\n",
                    opt.seconds, opt.warmup, pooled_connections, sqlite3_libversion(),
                    std::thread::hardware_concurrency());
        for (const auto w : opt.sqlite ? opt.workloads : std::vector<workload>{}) {
            for (const auto& c : list) {
                if (!selected(opt, c.key)) continue;
                for (const int t : opt.threads) {
                    auto r = cell_result::make(to_string(w), c.key, t, pooled_connections);
                    if (!c.installed) {
                        r.status = "skipped";
                    } else if (!c.supports(w)) {
                        r.status = "n/a";
                    } else {
                        std::fprintf(stderr, "  %-8s %-20s %2d thread(s) ...", to_string(w), c.key, t);
                        r = c.run(cell_setup{path, w, t, pooled_connections}, opt);
                        std::fprintf(stderr, " %s/s\n", human(r.ops_per_sec).c_str());
                    }
                    results.push_back(std::move(r));
                }
            }
            print_table(results, list, w, opt);
        }

        // P4: acquire + release with 256 connections against 4.
        std::vector<verdict> verdicts;
        std::vector<std::string> p4_lines;
        bool p4_met = true, p4_any = false;
        if (opt.p4) {
            std::printf("\n== P4: acquire + release, 256 connections against 4 (ratio = ops/s at 256 / ops/s "
                        "at 4)\n");
            for (const auto& c : list) {
                if (!std::string_view(c.key).starts_with("sqlpool-") ||
                    std::string_view(c.key) == "sqlpool-split" || !selected(opt, c.key))
                    continue;
                std::string line = std::string(c.label) + ":";
                for (const int t : opt.threads) {
                    // 4 and 256 back to back, so that both see the same machine.
                    auto small = c.run(cell_setup{path, workload::acquire, t, pooled_connections}, opt);
                    auto large = c.run(cell_setup{path, workload::acquire, t, 256}, opt);
                    const double ratio = small.ops_per_sec > 0 ? large.ops_per_sec / small.ops_per_sec : 0;
                    line += "  " + std::to_string(t) + "t: " + human(large.ops_per_sec) + " vs " +
                            human(small.ops_per_sec) + " (" + fixed(ratio, 2) + ")";
                    small.workload_name = large.workload_name = "p4_acquire";
                    results.push_back(std::move(small));
                    results.push_back(std::move(large));
                    p4_any = true;
                    if (ratio < 1.0 / 1.2) p4_met = false;
                }
                std::printf("  %s\n", line.c_str());
                p4_lines.push_back(line);
            }
        }

        // P5
        std::optional<p5_result> memory_default, memory_fastest;
        if (opt.p5) {
            memory_default = measure_memory<sqlpool::pool>(path);
            memory_fastest = measure_memory<fastest_pool>(path);
            std::printf("\n== P5: heap bytes per idle connection (slope between 16 and 256 connections)\n");
            for (const auto& [name, m] : {std::pair{"sqlpool::pool", *memory_default},
                                          std::pair{"sqlpool spin/no_check/never", *memory_fastest}})
                std::printf("  %-30s pool-owned C++ %6.0f B, sqlpool::connection's own C++ %6.0f B, "
                            "SQLite (sqlite3_memory_used) %8.0f B\n",
                            name, m.pool_cxx_per_connection, m.connection_cxx_per_connection,
                            m.sqlite_per_connection);
        }

#if defined(SQLPOOL_BENCH_HAVE_POSTGRES)
        if (!opt.postgres.empty() || opt.postgres_cluster) run_postgres(opt, results, verdicts);
#endif

        // Targets
        const auto ratio_of = [&](workload w, std::string_view key, int t) -> std::optional<double> {
            const auto* r = find_cell(results, to_string(w), key, t);
            const auto base = baseline(results, to_string(w), t);
            if (r == nullptr || r->status != "ok" || !base) return std::nullopt;
            return r->ops_per_sec / *base;
        };
        const auto has = [&](std::string_view w, std::string_view key) {
            return std::ranges::any_of(results, [&](const cell_result& r) {
                return r.workload_name == w && r.key == key && r.status == "ok";
            });
        };
        if (has("select", "sqlpool-default") && has("select", "limit")) {
            bool met = true;
            std::string detail;
            for (const int t : opt.threads) {
                const auto r = ratio_of(workload::select, "sqlpool-default", t);
                const auto f = ratio_of(workload::select, "sqlpool-fastest", t);
                met = met && r && *r >= 0.9;
                detail += std::to_string(t) + "t " + (r ? fixed(*r, 2) : "?") + " (fastest " +
                          (f ? fixed(*f, 2) : "?") + ")  ";
            }
            verdicts.push_back({"P1 point SELECT via sqlpool >= 0.9x the limit", met, detail});
        }
        if (has("acquire", "sqlpool-fastest") || has("acquire", "sqlpool-default")) {
            bool met_fast = true, met_default = true;
            std::string detail;
            for (const int t : opt.threads) {
                const auto f = ratio_of(workload::acquire, "sqlpool-fastest", t);
                const auto d = ratio_of(workload::acquire, "sqlpool-default", t);
                met_fast = met_fast && f && *f >= 1.5;
                met_default = met_default && d && *d >= 1.0;
                detail += std::to_string(t) + "t fastest " + (f ? fixed(*f, 2) : "?") + ", default " +
                          (d ? fixed(*d, 2) : "?") + "  ";
            }
            verdicts.push_back(
                {"P2 acquire: fastest >= 1.5x best peer, default >= 1.0x", met_fast && met_default, detail});
        }
        if (const auto *one = find_cell(results, "insert", "sqlpool-default", 1),
            *eight = find_cell(results, "insert", "sqlpool-default", 8);
            one != nullptr && eight != nullptr && one->status == "ok" && eight->status == "ok") {
            const double ratio = eight->ops_per_sec / one->ops_per_sec;
            std::string detail = "8t/1t " + fixed(ratio, 2) + ", busy surfaced " +
                                 std::to_string(eight->busy) + " (retried " +
                                 std::to_string(eight->busy_retried) + ")";
            if (const auto *s1 = find_cell(results, "insert", "sqlpool-split", 1),
                *s8 = find_cell(results, "insert", "sqlpool-split", 8);
                s1 != nullptr && s8 != nullptr && s1->status == "ok" && s8->status == "ok")
                detail += "; read_write_pool 8t/1t " + fixed(s8->ops_per_sec / s1->ops_per_sec, 2) +
                          ", busy surfaced " + std::to_string(s8->busy);
            verdicts.push_back({"P3 8 threads of write() >= 0.9x 1 thread, 0 busy",
                                ratio >= 0.9 && eight->busy == 0, detail});
        }
        if (p4_any) {
            std::string detail;
            for (const auto& l : p4_lines) detail += l + "  ";
            verdicts.push_back({"P4 acquire at 256 connections within 1.2x of 4", p4_met, detail});
        }
        if (memory_default) {
            const double worst =
                std::max(memory_default->pool_cxx_per_connection, memory_fastest->pool_cxx_per_connection);
            verdicts.push_back({"P5 pool's own bytes per idle connection <= 1 KiB", worst <= 1024,
                                "default " + fixed(memory_default->pool_cxx_per_connection, 0) +
                                    " B, fastest " + fixed(memory_fastest->pool_cxx_per_connection, 0) +
                                    " B (SQLite's own " +
                                    fixed(memory_default->sqlite_per_connection / 1024.0, 1) + " KiB)"});
        }
        if (!verdicts.empty()) {
            std::printf("\n== targets\n");
            for (const auto& v : verdicts)
                std::printf("  %-58s %-6s %s\n", v.name.c_str(), v.met ? "MET" : "MISSED", v.detail.c_str());
        }

        if (!opt.csv.empty()) {
            std::vector<cell_result> rows = results;
            if (memory_default) {
                // P5 rides along in the CSV: ops_per_sec holds bytes per connection there.
                for (const auto& [key, m] : {std::pair{"sqlpool-default", *memory_default},
                                             std::pair{"sqlpool-fastest", *memory_fastest}}) {
                    auto mem = cell_result::make("memory_pool_bytes", key, 0, 0);
                    mem.ops_per_sec = m.pool_cxx_per_connection;
                    rows.push_back(mem);
                    mem.workload_name = "memory_sqlite_bytes";
                    mem.ops_per_sec = m.sqlite_per_connection;
                    rows.push_back(mem);
                }
            }
            write_csv(opt.csv, rows);
            std::printf("\nCSV written to %s\n", opt.csv.c_str());
        }
    } catch (const std::exception& e) {
        std::fprintf(stderr, "sqlpool-bench-peers: %s\n", e.what());
        status = 1;
    }
    std::error_code ignored;
    std::filesystem::remove_all(dir, ignored);
    return status;
}
