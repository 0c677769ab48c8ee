// What the sections of sqlpool-bench-peers share (peers.cpp: SQLite, peers_postgres.cpp:
// PostgreSQL): the options, a cell's result, the timed run of one cell, the tables and the CSV.
// Standard headers only: include it before any `import`.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace peers {

using steady = std::chrono::steady_clock;

inline constexpr std::int64_t table_rows = 10'000;
inline constexpr std::size_t pooled_connections = 4;

enum class workload { acquire, select, insert };
inline constexpr workload all_workloads[] = {workload::acquire, workload::select, workload::insert};

constexpr const char* to_string(workload w) {
    switch (w) {
    case workload::acquire:
        return "acquire";
    case workload::select:
        return "select";
    case workload::insert:
        return "insert";
    }
    return "?";
}

struct options {
    double seconds = 1.0;
    double warmup = 0.25;
    std::uint64_t operations = 0; // > 0: each thread runs this many operations, no warm-up (callgrind)
    std::vector<int> threads{1, 8, 32};
    std::vector<workload> workloads{std::begin(all_workloads), std::end(all_workloads)};
    std::vector<std::string> only; // contender keys; empty = all
    std::string csv;
    bool sqlite = true; // the SQLite sections, P4 and P5
    bool p4 = true;
    bool p5 = true;
    std::string postgres;          // a libpq conninfo: the PostgreSQL section runs against it
    bool postgres_cluster = false; // start (and stop) a throw-away server with tests/postgres/pg-cluster
};

[[nodiscard]] inline bool selected(const options& opt, std::string_view key) {
    return opt.only.empty() || std::ranges::find(opt.only, key) != opt.only.end();
}

// A busy error that reached the caller (counted apart from other errors).
struct busy_failure : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// Point-select keys: a cheap xorshift generator, different per thread.
class key_stream {
public:
    explicit key_stream(std::uint64_t seed) : state_(0x9E3779B97F4A7C15ULL * (seed + 1)) {}
    std::int64_t next() noexcept {
        state_ ^= state_ << 13;
        state_ ^= state_ >> 7;
        state_ ^= state_ << 17;
        return static_cast<std::int64_t>(state_ % static_cast<std::uint64_t>(table_rows)) + 1;
    }

private:
    std::uint64_t state_;
};

// Busy errors and retries a contender saw besides thrown errors.
struct extra_counts {
    std::uint64_t busy_surfaced = 0;
    std::uint64_t busy_retried = 0;
};

struct cell_result {
    std::string workload_name;
    std::string key;
    int threads = 0;
    std::size_t connections = 0;
    std::string status = "ok"; // ok, skipped, n/a, failed
    double ops_per_sec = 0;
    std::uint64_t ops = 0;
    std::uint64_t errors = 0;
    std::uint64_t busy = 0;         // busy errors that reached the caller
    std::uint64_t busy_retried = 0; // retries inside sqlpool's write()
    std::string note;

    static cell_result make(std::string workload_name, std::string key, int threads,
                            std::size_t connections) {
        cell_result r;
        r.workload_name = std::move(workload_name);
        r.key = std::move(key);
        r.threads = threads;
        r.connections = connections;
        return r;
    }
};

struct verdict {
    std::string name;
    bool met;
    std::string detail;
};

struct alignas(64) thread_counters {
    std::atomic<std::uint64_t> ops{0};
    std::atomic<std::uint64_t> errors{0};
    std::atomic<std::uint64_t> busy{0};
};

// Runs one cell on `result.threads` threads. Each worker makes its own state with make_local()
// before the clock starts, then calls step(state, keys, n) -> bool (false: a wrong answer,
// counted as an error; n counts the thread's operations) until stopped: after opt.warmup, the
// operations done in the next opt.seconds count; with opt.operations, each thread does exactly
// that many and the whole run counts. busy_failure counts as busy, anything else thrown as an
// error; extra() gives the contender's own busy figures. A make_local() that throws fails the cell.
template <class MakeLocal, class Step, class Extra>
void measure(cell_result& result, const options& opt, MakeLocal make_local, Step step, Extra extra) {
    const int threads = result.threads;
    std::vector<thread_counters> counters(static_cast<std::size_t>(threads));
    std::atomic<int> ready{0};
    std::atomic<bool> go{false};
    std::atomic<bool> stop{false};
    std::mutex failure_mutex;
    std::string failure;
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; ++t) {
        workers.emplace_back([&, t] {
            auto& mine = counters[static_cast<std::size_t>(t)];
            std::optional<decltype(make_local())> local;
            try {
                local.emplace(make_local());
            } catch (const std::exception& e) {
                const std::lock_guard lock(failure_mutex);
                failure = e.what();
            }
            ready.fetch_add(1);
            while (!go.load(std::memory_order_acquire)) std::this_thread::yield();
            if (!local) return;
            key_stream keys(static_cast<std::uint64_t>(t));
            std::uint64_t ops = 0, errors = 0, busy = 0;
            const std::uint64_t limit = opt.operations;
            for (std::uint64_t done = 0; limit != 0 ? done < limit : !stop.load(std::memory_order_relaxed);
                 ++done) {
                try {
                    if (!step(*local, keys, ops)) mine.errors.store(++errors, std::memory_order_relaxed);
                    mine.ops.store(++ops, std::memory_order_relaxed);
                } catch (const busy_failure&) {
                    mine.busy.store(++busy, std::memory_order_relaxed);
                } catch (...) {
                    mine.errors.store(++errors, std::memory_order_relaxed);
                }
            }
        });
    }
    while (ready.load() != threads) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    const auto sum = [&](std::atomic<std::uint64_t> thread_counters::* field) {
        std::uint64_t total = 0;
        for (auto& c : counters) total += (c.*field).load(std::memory_order_relaxed);
        return total;
    };
    std::uint64_t ops0 = 0, errors0 = 0, busy0 = 0;
    extra_counts extra0;
    go.store(true, std::memory_order_release);
    if (opt.operations == 0) {
        std::this_thread::sleep_for(std::chrono::duration<double>(opt.warmup));
        ops0 = sum(&thread_counters::ops);
        errors0 = sum(&thread_counters::errors);
        busy0 = sum(&thread_counters::busy);
        extra0 = extra();
    }
    const auto t0 = steady::now();
    if (opt.operations == 0)
        std::this_thread::sleep_for(std::chrono::duration<double>(opt.seconds));
    else
        for (auto& w : workers) w.join();
    const auto ops1 = sum(&thread_counters::ops);
    const auto t1 = steady::now();
    const auto errors1 = sum(&thread_counters::errors);
    const auto busy1 = sum(&thread_counters::busy);
    const auto extra1 = extra();
    stop.store(true);
    for (auto& w : workers)
        if (w.joinable()) w.join();
    if (!failure.empty()) {
        result.status = "failed";
        result.note = failure;
        return;
    }
    result.ops = ops1 - ops0;
    result.ops_per_sec = static_cast<double>(result.ops) / std::chrono::duration<double>(t1 - t0).count();
    result.errors = errors1 - errors0;
    result.busy = (busy1 - busy0) + (extra1.busy_surfaced - extra0.busy_surfaced);
    result.busy_retried = extra1.busy_retried - extra0.busy_retried;
}

// Builds the cell's contender, C(arg) (when that throws, the cell fails), and measures it with
// its make_local() and extra(): step(C&, C::local&, keys, n) -> bool as in measure().
template <class C, class Arg, class Step>
void measure_contender(cell_result& result, const options& opt, const Arg& arg, Step step) {
    std::optional<C> contender;
    try {
        contender.emplace(arg);
    } catch (const std::exception& e) {
        result.status = "failed";
        result.note = e.what();
        return;
    }
    measure(
        result, opt, [&] { return contender->make_local(); },
        [&](typename C::local& local, key_stream& keys, std::uint64_t n) {
            return step(*contender, local, keys, n);
        },
        [&] { return contender->extra(); });
}

// The pool a user writes in an afternoon: a vector of connections, a mutex and a condition variable.
template <class Connection>
class mutex_vector_pool {
public:
    template <class... Args>
    explicit mutex_vector_pool(std::size_t size, const Args&... args) {
        for (std::size_t i = 0; i < size; ++i) all_.push_back(std::make_unique<Connection>(args...));
        for (auto& c : all_) idle_.push_back(c.get());
    }
    Connection* acquire() {
        std::unique_lock lock(mutex_);
        available_.wait(lock, [&] { return !idle_.empty(); });
        Connection* c = idle_.back();
        idle_.pop_back();
        return c;
    }
    void release(Connection* c) {
        {
            const std::lock_guard lock(mutex_);
            idle_.push_back(c);
        }
        available_.notify_one();
    }

    class guard {
    public:
        explicit guard(mutex_vector_pool& pool) : pool_(pool), conn_(pool.acquire()) {}
        guard(const guard&) = delete;
        guard& operator=(const guard&) = delete;
        ~guard() { pool_.release(conn_); }
        Connection* operator->() const { return conn_; }

    private:
        mutex_vector_pool& pool_;
        Connection* conn_;
    };

private:
    std::vector<std::unique_ptr<Connection>> all_;
    std::mutex mutex_;
    std::condition_variable available_;
    std::vector<Connection*> idle_;
};

// ---- output (peers.cpp) -------------------------------------------------------------------------

std::string human(double ops);
std::string fixed(double value, int digits);
const cell_result* find_cell(const std::vector<cell_result>& results, std::string_view workload_name,
                             std::string_view key, int threads, std::size_t connections = pooled_connections);
// The denominator of a cell's ratio: the limit of the same workload, or for "acquire" the best peer.
std::optional<double> baseline(const std::vector<cell_result>& results, std::string_view workload_name,
                               int threads);

struct table_row {
    const char* key;
    const char* label;
};
// One table: a line per contender with a cell of this workload, a column per thread count.
void print_table(const std::vector<cell_result>& results, std::span<const table_row> rows,
                 std::string_view workload_name, std::string_view title, const options& opt);

#if defined(SQLPOOL_BENCH_HAVE_POSTGRES)
// The PostgreSQL section (peers_postgres.cpp): appends its cells (workloads pg_select and
// pg_insert) to `results`, prints its tables and adds its target to `verdicts`.
void run_postgres(const options& opt, std::vector<cell_result>& results, std::vector<verdict>& verdicts);
#endif

} // namespace peers
