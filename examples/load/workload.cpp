// The report and the progress line of sqlpool-load (see workload.hpp).
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <iostream>
#include <string>
#include <string_view>

#include "workload.hpp"

import sqlpool;

namespace load {

namespace {

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

// The runner's calls (every operation) and how often they ran fn (retries included; a call that
// failed before its transaction began ran it never), where the pool keeps no transaction counts.
void print_runner(const options& o, const tally& t) {
    if (!o.runner) return;
    std::cout << "runner         calls " << t.done() << "  runs of fn " << t.fn_runs
              << "  (sqlpool-load's count: pool_stats has no transactions for postgres::write/read)\n";
}

void print_stats(const options& o, const tally& t, const findings& f) {
    const sqlpool::pool_stats& s = f.stats;
    std::cout << "pool           total " << s.total << "  idle " << s.idle << "  in use " << s.in_use
              << "  waiting " << s.waiting << "  max " << s.max_connections << '\n'
              << "               acquired " << s.acquired << "  created " << s.created << "  open failures "
              << s.open_failures << "  timeouts " << s.timeouts << '\n'
              << "               closed: aged " << s.closed.aged << "  idle " << s.closed.idle
              << "  unhealthy " << s.closed.unhealthy << "  uses " << s.closed.uses << "  broken "
              << s.closed.broken << "  shutdown " << s.closed.shutdown << '\n'
              << "               resets on return " << s.resets << "  failed health checks "
              << s.failed_health_checks << '\n';
    if (f.runner_counts_in_stats)
        std::cout << "transactions   committed " << s.transactions.committed << "  rolled back "
                  << s.transactions.rolled_back << "  retried " << s.transactions.retried << "  busy seen "
                  << s.transactions.busy_seen << "  busy surfaced " << s.transactions.busy_surfaced << '\n';
    else
        print_runner(o, t);
    std::cout << "acquire wait   p50 " << format_ns(s.wait_p50) << "  p99 " << format_ns(s.wait_p99)
              << "  max " << format_ns(s.wait_max) << '\n';
}

void print_text(const options& o, const tally& t, const findings& f) {
    const std::uint64_t total = t.reads + t.writes;
    std::cout << "operations     " << total << " in " << f.seconds
              << " s = " << static_cast<std::uint64_t>(static_cast<double>(total) / f.seconds)
              << " ops/s  (reads " << t.reads << ", writes " << t.writes << ")\n"
              << "errors         ";
    const char* gap = "";
    for (const auto& [name, kind] : f.errors) {
        std::cout << gap << name << ' ' << t.failed(kind);
        gap = "  ";
    }
    std::cout << '\n';
    print_stats(o, t, f);
    const std::uint64_t unknown = t.failed(failure::commit_unknown);
    std::cout << "consistency    counters grew by " << f.added << ", acknowledged writes " << t.writes;
    if (std::ranges::any_of(f.errors, [](const auto& e) { return e.second == failure::commit_unknown; }))
        std::cout << ", commit unknown " << unknown;
    std::cout << ": " << (consistent(t, f.added) ? "ok" : "MISMATCH") << '\n'
              << "integrity      " << f.integrity << f.integrity_note << '\n';
}

void print_json(const options& o, const tally& t, const findings& f) {
    const std::uint64_t total = t.reads + t.writes;
    std::cout << R"({"backend":")" << f.backend << R"(",")" << f.target_key << R"(":")"
              << json_escape(f.target) << R"(","threads":)" << o.threads << R"(,"seconds":)" << f.seconds
              << R"(,"operations":)" << total << R"(,"ops_per_second":)"
              << static_cast<std::uint64_t>(static_cast<double>(total) / f.seconds) << R"(,"reads":)"
              << t.reads << R"(,"writes":)" << t.writes << R"(,"errors":{)";
    const char* comma = "";
    for (const auto& [name, kind] : f.errors) {
        std::cout << comma << '"' << name << R"(":)" << t.failed(kind);
        comma = ",";
    }
    std::cout << R"(},"counters_added":)" << f.added << R"(,"consistent":)"
              << (consistent(t, f.added) ? "true" : "false") << R"(,"integrity":")"
              << json_escape(f.integrity) << R"(","pool":)" << sqlpool::to_json(f.stats, o.policy);
    if (!f.runner_counts_in_stats && o.runner)
        std::cout << R"(,"runner":{"calls":)" << t.done() << R"(,"fn_runs":)" << t.fn_runs << '}';
    std::cout << "}\n";
}

} // namespace

void tally::count(failure kind, const std::exception& e) {
    if (failures.at(static_cast<std::size_t>(kind))++ == 0 && kind == failure::other)
        std::cerr << "sqlpool-load: first unexpected error: " << e.what() << '\n';
}

void show_progress(double seconds, const tally& t, const sqlpool::pool_stats& s) {
    std::printf("\r  %6.1fs  %10.0f ops/s  in use %zu / idle %zu  waiting %zu   ", seconds,
                static_cast<double>(t.done()) / seconds, s.in_use, s.idle, s.waiting);
    std::fflush(stdout);
}

bool consistent(const tally& t, std::int64_t added) {
    const auto writes = static_cast<std::int64_t>(t.writes.load());
    const auto unknown = static_cast<std::int64_t>(t.failed(failure::commit_unknown));
    return added >= writes && added <= writes + unknown;
}

void print_header(const options& o, const sqlpool::pool_config& config, std::string_view backend,
                  std::string_view where) {
    if (o.json) return;
    std::cout << "sqlpool-load: " << backend << ", " << o.threads << " threads, "
              << (o.operations != 0 ? std::to_string(o.operations) + " operations"
                                    : std::to_string(o.duration.count()) + " ms")
              << ", read ratio " << o.read_ratio << ", policy " << o.policy << ", via "
              << (o.runner ? "runner" : "direct") << ", pool " << config.min_connections << ".."
              << config.max_connections << '\n'
              << where << " (" << o.rows << " rows)\n";
}

int print_report(const options& o, const tally& t, const findings& f) {
    if (o.json)
        print_json(o, t, f);
    else
        print_text(o, t, f);
    return !consistent(t, f.added) || f.integrity != "ok" || t.failed(failure::other) != 0 ? 1 : 0;
}

} // namespace load
