// What sqlpool-load's backends share: the tally of what the operations did, the worker loop, the
// driver that runs the workers under the live progress line, and the report. A backend supplies
// one operation (a point read or a one-row increment), which exceptions mean what, and the pool
// figures.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <unistd.h>

#include "options.hpp"

import sqlpool;

namespace load {

using steady = std::chrono::steady_clock;

// How an operation failed: busy_error (SQLite), serialization_error, connection_lost_error and
// commit_unknown_error (PostgreSQL) as the runner finally let them through, timeout_error, or
// anything else.
enum class failure { busy, serialization, connection_lost, commit_unknown, timeout, other };
inline constexpr std::size_t failure_kinds = 6;

// Every operation ends as exactly one read, write or failure.
struct tally {
    std::atomic<std::uint64_t> reads{0};
    std::atomic<std::uint64_t> writes{0}; // acknowledged: COMMIT returned
    std::array<std::atomic<std::uint64_t>, failure_kinds> failures{};
    std::atomic<std::uint64_t> started{0};
    std::atomic<std::uint64_t> fn_runs{0}; // PostgreSQL runner: runs of fn, retries included

    [[nodiscard]] std::uint64_t failed(failure kind) const {
        return failures.at(static_cast<std::size_t>(kind));
    }
    [[nodiscard]] std::uint64_t done() const {
        std::uint64_t n = reads + writes;
        for (const auto& count : failures) n += count;
        return n;
    }
    // Counts a failure; the first unexpected one is printed, as it happens.
    void count(failure kind, const std::exception& e);
};

// One worker: random point reads and one-row increments until `stop`, or until the --operations
// budget is spent. op(read, id) runs one operation; classify(e, read) says what its exception means.
template <class Op, class Classify>
void work(const options& o, tally& t, const std::atomic<bool>& stop, unsigned seed, Op& op,
          Classify& classify) {
    std::mt19937_64 rng(seed);
    std::uniform_int_distribution<std::uint64_t> pick_row(1, o.rows);
    std::bernoulli_distribution is_read(o.read_ratio);
    while (!stop.load(std::memory_order_relaxed)) {
        if (o.operations != 0 && t.started.fetch_add(1, std::memory_order_relaxed) >= o.operations) break;
        const auto id = static_cast<std::int64_t>(pick_row(rng));
        const bool read = is_read(rng);
        try {
            op(read, id);
            ++(read ? t.reads : t.writes);
        } catch (const std::exception& e) {
            t.count(classify(e, read), e); // a lease rolls its open transaction back when it returns
        }
    }
}

// The progress line: operations per second and the pool's gauges.
void show_progress(double seconds, const tally& t, const sqlpool::pool_stats& s);

// Runs o.threads workers until the duration or the --operations budget is spent, showing progress
// on a terminal (stats() gives the pool figures); returns the seconds the run took.
template <class Op, class Classify, class Stats>
double drive(const options& o, tally& t, Op op, Classify classify, Stats stats) {
    std::atomic<bool> stop{false};
    const auto started = steady::now();
    std::vector<std::thread> workers;
    workers.reserve(o.threads);
    for (unsigned i = 0; i < o.threads; ++i)
        workers.emplace_back([&, i] { work(o, t, stop, 0x5eed + i, op, classify); });

    const bool live = o.progress && !o.json && ::isatty(STDOUT_FILENO) == 1;
    const auto deadline = started + o.duration;
    while (true) {
        std::this_thread::sleep_for(std::chrono::milliseconds(250));
        const auto now = steady::now();
        if (live) show_progress(std::chrono::duration<double>(now - started).count(), t, stats());
        if (o.operations != 0 ? t.done() >= o.operations : now >= deadline) break;
    }
    stop = true;
    for (auto& w : workers) w.join();
    if (live) std::printf("\r%72s\r", "");
    return std::chrono::duration<double>(steady::now() - started).count();
}

// What a backend found after the run, for the report.
struct findings {
    std::string_view backend;    // "sqlite", "postgres"
    std::string_view target_key; // "database", "conninfo"
    std::string target;          // the file, or the conninfo without its password
    double seconds = 0;
    std::vector<std::pair<std::string_view, failure>> errors; // the failures the backend can have, by name
    sqlpool::pool_stats stats;
    // false: the runner keeps no pool_stats::transactions (PostgreSQL's postgres::write/read); the
    // report shows sqlpool-load's own count of the runner's calls and runs of fn instead.
    bool runner_counts_in_stats = true;
    std::int64_t added = 0;     // how much the sum of the counters grew
    std::string integrity;      // "ok", or what is wrong
    std::string integrity_note; // how it was checked, for the text report
};

// Whether the counters grew by the acknowledged writes, plus at most the commits whose outcome is
// unknown.
[[nodiscard]] bool consistent(const tally& t, std::int64_t added);

// The first lines: the run's settings, the backend and where it runs.
void print_header(const options& o, const sqlpool::pool_config& config, std::string_view backend,
                  std::string_view where);

// The final report, as text or JSON; returns the exit status (1 when the run found a problem).
int print_report(const options& o, const tally& t, const findings& f);

} // namespace load
