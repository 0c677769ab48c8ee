// Google Benchmark micro benchmarks of sqlpool's hot paths:
//   - acquire + release at 1, 2, 8 and 32 threads with 4 and 64 connections, for each stock
//     locking policy (single_thread at 1 thread only; it is not meant to be shared);
//   - the statement cache: query_value on a cached point SELECT against the same call with
//     statement_cache_size 0 (prepared every time), and a raw sqlite3_stmt prepared once (the floor);
//   - reset on return: a lease that leaves a read transaction open (the pool rolls it back) against
//     one that commits it itself, and one that does nothing;
//   - the event listener: acquire + release without a listener and with one that does nothing;
//   - a write(): one row updated and committed.
//
// What is not measured is switched off: pools here use health::no_check and recycling::never unless
// the name says otherwise, and .background_maintenance = false, so that a benchmark of a locking
// policy measures the locking policy and not a health check or a maintenance thread. The
// acquire_release_default rows are the exception: sqlpool::pool with every default policy (ping
// health check, standard recycling), still without the maintenance thread.
//
// Run: build/bench/bench/sqlpool-bench-micro --benchmark_min_time=0.2
#include <benchmark/benchmark.h>
#include <sqlite3.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>

import sqlpool;

namespace {

constexpr std::int64_t table_rows = 10'000;
constexpr const char* point_select = "SELECT v FROM kv WHERE id = ?";

// A scratch directory for this process, removed at exit.
class scratch_dir {
public:
    scratch_dir()
        : path_(std::filesystem::temp_directory_path() /
                ("sqlpool-bench-micro-" + std::to_string(::getpid()))) {
        std::filesystem::create_directories(path_);
    }
    scratch_dir(const scratch_dir&) = delete;
    scratch_dir& operator=(const scratch_dir&) = delete;
    ~scratch_dir() {
        std::error_code ignored;
        std::filesystem::remove_all(path_, ignored);
    }
    [[nodiscard]] std::string file(const std::string& name) const { return (path_ / name).string(); }

private:
    std::filesystem::path path_;
};

// A WAL file database with table kv(id, v) holding table_rows rows, v = 3 * id + 1. Made once.
const std::string& database() {
    static scratch_dir dir;
    static const std::string path = [] {
        std::string file = dir.file("micro.db");
        sqlpool::connection conn(sqlpool::open_options{.path = file});
        conn.exec("CREATE TABLE kv(id INTEGER PRIMARY KEY, v INTEGER NOT NULL)");
        auto tx = conn.begin(sqlpool::isolation_level::immediate);
        for (std::int64_t id = 1; id <= table_rows; ++id)
            conn.exec("INSERT INTO kv(id, v) VALUES(?, ?)", id, 3 * id + 1);
        tx.commit();
        return file;
    }();
    return path;
}

sqlpool::pool_config bench_config(std::size_t connections) {
    return sqlpool::pool_config{.database = database(),
                                .min_connections = connections,
                                .max_connections = connections,
                                .background_maintenance = false};
}

// One pool per (type, size), made by whichever benchmark thread gets here first and kept until
// exit, so that multi-threaded runs share it and repeated runs do not pay for opening it.
template <class Pool>
Pool& shared_pool(std::size_t connections) {
    static std::mutex mutex;
    static std::map<std::size_t, std::unique_ptr<Pool>> pools;
    const std::lock_guard lock(mutex);
    auto& slot = pools[connections];
    if (!slot) slot = std::make_unique<Pool>(bench_config(connections));
    return *slot;
}

// Point-select keys: a cheap generator, different per thread, spread over the whole table.
class key_stream {
public:
    explicit key_stream(int seed) : state_(0x9E3779B97F4A7C15ULL * static_cast<std::uint64_t>(seed + 1)) {}
    std::int64_t next() noexcept {
        state_ ^= state_ << 13;
        state_ ^= state_ >> 7;
        state_ ^= state_ << 17;
        return static_cast<std::int64_t>(state_ % static_cast<std::uint64_t>(table_rows)) + 1;
    }

private:
    std::uint64_t state_;
};

// ---- acquire + release ------------------------------------------------------------------------

template <class Locking>
using measured_pool = sqlpool::basic_pool<Locking, sqlpool::health::no_check, sqlpool::recycling::never>;

template <class Pool>
void acquire_release_on(benchmark::State& state, Pool& pool) {
    for (auto _ : state) {
        auto lease = pool.acquire();
        benchmark::DoNotOptimize(lease);
    }
    state.SetItemsProcessed(state.iterations());
}

template <class Pool>
void acquire_release(benchmark::State& state) {
    acquire_release_on(state, shared_pool<Pool>(static_cast<std::size_t>(state.range(0))));
}

void BM_acquire_release_std_mutex(benchmark::State& state) {
    acquire_release<measured_pool<sqlpool::locking::std_mutex>>(state);
}
void BM_acquire_release_spin(benchmark::State& state) {
    acquire_release<measured_pool<sqlpool::locking::spin>>(state);
}
void BM_acquire_release_single_thread(benchmark::State& state) {
    acquire_release<measured_pool<sqlpool::locking::single_thread>>(state);
}
void BM_acquire_release_default(benchmark::State& state) {
    acquire_release<sqlpool::pool>(state);
}

void contended(benchmark::internal::Benchmark* b) {
    b->ArgName("connections")->Arg(4)->Arg(64)->UseRealTime();
    for (const int threads : {1, 2, 8, 32}) b->Threads(threads);
}

BENCHMARK(BM_acquire_release_std_mutex)->Apply(contended);
BENCHMARK(BM_acquire_release_spin)->Apply(contended);
BENCHMARK(BM_acquire_release_single_thread)
    ->ArgName("connections")
    ->Arg(4)
    ->Arg(64)
    ->Threads(1)
    ->UseRealTime();
BENCHMARK(BM_acquire_release_default)->Apply(contended);

// ---- the event listener -----------------------------------------------------------------------
// sqlpool::pool at 1 thread with 4 connections, without a listener and with one that overrides
// nothing (each event is then a virtual call to an empty function). The first row, the same pool
// as acquire_release_default's at 1 thread and 4 connections, is what every pool without a
// listener pays: docs/benchmarks.md compares it with a build whose notify() is
// compiled out, to show that an unset listener costs nothing measurable.

struct silent_listener final : sqlpool::pool_listener {};

void BM_listener_unset(benchmark::State& state) {
    acquire_release_on(state, shared_pool<sqlpool::pool>(4));
}
void BM_listener_silent(benchmark::State& state) {
    static const std::unique_ptr<sqlpool::pool> pool = [] {
        auto config = bench_config(4);
        config.listener = std::make_shared<silent_listener>();
        return std::make_unique<sqlpool::pool>(config);
    }();
    acquire_release_on(state, *pool);
}

BENCHMARK(BM_listener_unset)->UseRealTime();
BENCHMARK(BM_listener_silent)->UseRealTime();

// ---- the statement cache ----------------------------------------------------------------------

void point_select_through(benchmark::State& state, std::size_t cache_size) {
    sqlpool::connection conn(sqlpool::open_options{.path = database(), .statement_cache_size = cache_size});
    key_stream keys(0);
    for (auto _ : state) {
        const std::int64_t id = keys.next();
        const auto v = conn.query_value<std::int64_t>(point_select, id);
        if (v != 3 * id + 1) state.SkipWithError("wrong row");
        benchmark::DoNotOptimize(v);
    }
    state.SetItemsProcessed(state.iterations());
    state.counters["cache_hits"] = static_cast<double>(conn.statement_cache().hits);
}

void BM_point_select_cached(benchmark::State& state) {
    point_select_through(state, 64);
}
void BM_point_select_prepare_every_time(benchmark::State& state) {
    point_select_through(state, 0);
}

// The floor: one raw statement, prepared once, bound and stepped and reset by hand.
void BM_point_select_raw_sqlite(benchmark::State& state) {
    sqlite3* db = nullptr;
    if (sqlite3_open_v2(database().c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr) !=
        SQLITE_OK)
        throw std::runtime_error("cannot open the benchmark database");
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v3(db, point_select, -1, SQLITE_PREPARE_PERSISTENT, &stmt, nullptr) != SQLITE_OK)
        throw std::runtime_error(sqlite3_errmsg(db));
    key_stream keys(0);
    for (auto _ : state) {
        const std::int64_t id = keys.next();
        sqlite3_bind_int64(stmt, 1, id);
        if (sqlite3_step(stmt) != SQLITE_ROW) state.SkipWithError("no row");
        const auto v = sqlite3_column_int64(stmt, 0);
        if (v != 3 * id + 1) state.SkipWithError("wrong row");
        sqlite3_reset(stmt);
        benchmark::DoNotOptimize(v);
    }
    sqlite3_finalize(stmt);
    sqlite3_close_v2(db);
    state.SetItemsProcessed(state.iterations());
}

BENCHMARK(BM_point_select_raw_sqlite);
BENCHMARK(BM_point_select_cached);
BENCHMARK(BM_point_select_prepare_every_time);

// ---- reset on return --------------------------------------------------------------------------
// One connection, one thread: every acquire gets the connection the last release gave back. Each
// lease reads one row in a DEFERRED transaction; it either commits itself or leaves the
// transaction open for the pool's reset on return (ROLLBACK) to end.

using reset_pool = measured_pool<sqlpool::locking::std_mutex>;

void BM_reset_nothing_to_reset(benchmark::State& state) {
    auto& pool = shared_pool<reset_pool>(1);
    for (auto _ : state) {
        auto lease = pool.acquire();
        benchmark::DoNotOptimize(lease);
    }
    state.SetItemsProcessed(state.iterations());
}

void BM_reset_transaction_committed(benchmark::State& state) {
    auto& pool = shared_pool<reset_pool>(1);
    key_stream keys(0);
    for (auto _ : state) {
        auto lease = pool.acquire();
        lease->exec("BEGIN");
        benchmark::DoNotOptimize(lease->query_value<std::int64_t>(point_select, keys.next()));
        lease->exec("COMMIT");
    }
    state.SetItemsProcessed(state.iterations());
}

void BM_reset_transaction_left_open(benchmark::State& state) {
    auto& pool = shared_pool<reset_pool>(1);
    const auto resets_before = pool.stats().resets;
    key_stream keys(0);
    for (auto _ : state) {
        auto lease = pool.acquire();
        lease->exec("BEGIN");
        benchmark::DoNotOptimize(lease->query_value<std::int64_t>(point_select, keys.next()));
        // no COMMIT: the pool rolls the transaction back when the lease goes
    }
    state.SetItemsProcessed(state.iterations());
    state.counters["resets"] = static_cast<double>(pool.stats().resets - resets_before);
}

BENCHMARK(BM_reset_nothing_to_reset);
BENCHMARK(BM_reset_transaction_committed);
BENCHMARK(BM_reset_transaction_left_open);

// ---- a write transaction ----------------------------------------------------------------------
// write() updating one row, WAL and synchronous=NORMAL: what a commit costs, including the checks
// that the database file was not moved (the commit hook's and the one after COMMIT).

void BM_write_one_row(benchmark::State& state) {
    auto& pool = shared_pool<reset_pool>(1);
    key_stream keys(0);
    for (auto _ : state) {
        pool.write([&](sqlpool::connection& c) { c.exec("UPDATE kv SET v = v WHERE id = ?", keys.next()); });
    }
    state.SetItemsProcessed(state.iterations());
}

BENCHMARK(BM_write_one_row);

} // namespace

BENCHMARK_MAIN();
