// pool_stats rendered for operators: Prometheus text exposition format and JSON.
module;
#include "detail/gmf.hpp"
export module sqlpool:metrics;
import :stats;

namespace sqlpool::detail {

inline std::string escape_label(std::string_view text) {
    std::string out;
    for (char c : text) {
        if (c == '\\' || c == '"') out += '\\';
        if (c == '\n') {
            out += "\\n";
            continue;
        }
        out += c;
    }
    return out;
}

inline std::string escape_json(std::string_view text) {
    std::string out;
    for (char c : text) {
        switch (c) {
        case '"':
            out += "\\\"";
            break;
        case '\\':
            out += "\\\\";
            break;
        case '\n':
            out += "\\n";
            break;
        case '\t':
            out += "\\t";
            break;
        case '\r':
            out += "\\r";
            break;
        default:
            if (static_cast<unsigned char>(c) < 0x20) {
                std::array<char, 8> code{};
                std::snprintf(code.data(), code.size(), "\\u%04x", static_cast<unsigned>(c));
                out += code.data();
            } else {
                out += c;
            }
        }
    }
    return out;
}

inline std::string seconds(std::chrono::nanoseconds value) {
    std::array<char, 32> text{};
    std::snprintf(text.data(), text.size(), "%.9g", std::chrono::duration<double>(value).count());
    return text.data();
}

struct metric_row {
    const char* name;
    const char* type; // gauge or counter
    const char* help;
    std::string value;
    const char* extra_label = nullptr; // e.g. reason="aged"
};

inline std::vector<metric_row> metric_rows(const pool_stats& s) {
    const auto n = [](auto v) { return std::to_string(v); };
    return {
        {"sqlpool_connections", "gauge", "Open connections, leased or idle.", n(s.total)},
        {"sqlpool_connections_idle", "gauge", "Idle connections.", n(s.idle)},
        {"sqlpool_connections_in_use", "gauge", "Leased connections (or being opened or checked).",
         n(s.in_use)},
        {"sqlpool_connections_max", "gauge", "max_connections.", n(s.max_connections)},
        {"sqlpool_waiting_threads", "gauge", "Threads blocked in acquire().", n(s.waiting)},
        {"sqlpool_acquired_total", "counter", "Leases handed out.", n(s.acquired)},
        {"sqlpool_timeouts_total", "counter", "acquire() calls that timed out.", n(s.timeouts)},
        {"sqlpool_connections_created_total", "counter", "Connections opened.", n(s.created)},
        {"sqlpool_open_failures_total", "counter", "Connections that failed to open.", n(s.open_failures)},
        {"sqlpool_connections_closed_total", "counter", "Connections closed, by reason.", n(s.closed.aged),
         "reason=\"aged\""},
        {"sqlpool_connections_closed_total", "counter", "", n(s.closed.idle), "reason=\"idle\""},
        {"sqlpool_connections_closed_total", "counter", "", n(s.closed.unhealthy), "reason=\"unhealthy\""},
        {"sqlpool_connections_closed_total", "counter", "", n(s.closed.uses), "reason=\"uses\""},
        {"sqlpool_connections_closed_total", "counter", "", n(s.closed.broken), "reason=\"broken\""},
        {"sqlpool_connections_closed_total", "counter", "", n(s.closed.shutdown), "reason=\"shutdown\""},
        {"sqlpool_resets_total", "counter",
         "Returns that needed a rollback, statement reset or settings restore.", n(s.resets)},
        {"sqlpool_failed_health_checks_total", "counter", "Health checks that failed.",
         n(s.failed_health_checks)},
        {"sqlpool_listener_errors_total", "counter", "Exceptions thrown by the pool listener.",
         n(s.listener_errors)},
        {"sqlpool_transactions_total", "counter", "Runner transactions, by outcome.",
         n(s.transactions.committed), "outcome=\"committed\""},
        {"sqlpool_transactions_total", "counter", "", n(s.transactions.rolled_back),
         "outcome=\"rolled_back\""},
        {"sqlpool_transaction_retries_total", "counter", "Runner attempts repeated after SQLITE_BUSY.",
         n(s.transactions.retried)},
        {"sqlpool_busy_errors_total", "counter", "Busy errors met by the runner, by fate.",
         n(s.transactions.busy_seen), "fate=\"seen\""},
        {"sqlpool_busy_errors_total", "counter", "", n(s.transactions.busy_surfaced), "fate=\"surfaced\""},
        {"sqlpool_acquire_wait_seconds", "gauge", "Acquire wait time quantiles.", seconds(s.wait_p50),
         "quantile=\"0.5\""},
        {"sqlpool_acquire_wait_seconds", "gauge", "", seconds(s.wait_p99), "quantile=\"0.99\""},
        {"sqlpool_acquire_wait_seconds", "gauge", "", seconds(s.wait_max), "quantile=\"1\""},
    };
}

} // namespace sqlpool::detail

export namespace sqlpool {

// Prometheus text exposition format (version 0.0.4), every series labelled pool="<pool_name>".
[[nodiscard]] inline std::string to_prometheus(const pool_stats& stats,
                                               std::string_view pool_name = "default") {
    std::string out;
    const std::string pool_label = "pool=\"" + detail::escape_label(pool_name) + "\"";
    std::string_view previous;
    for (const auto& row : detail::metric_rows(stats)) {
        if (previous != row.name) {
            out += std::string("# HELP ") + row.name + " " + row.help + "\n";
            out += std::string("# TYPE ") + row.name + " " + row.type + "\n";
            previous = row.name;
        }
        out += std::string(row.name) + "{" + pool_label +
               (row.extra_label ? std::string(",") + row.extra_label : "") + "} " + row.value + "\n";
    }
    return out;
}

// One JSON object with every figure; durations in nanoseconds.
[[nodiscard]] inline std::string to_json(const pool_stats& s, std::string_view pool_name = "default") {
    const auto n = [](auto v) { return std::to_string(v); };
    std::string out = "{";
    out += R"("pool":")" + detail::escape_json(pool_name) + '"';
    out += R"(,"total":)" + n(s.total) + R"(,"idle":)" + n(s.idle) + R"(,"in_use":)" + n(s.in_use) +
           R"(,"waiting":)" + n(s.waiting) + R"(,"max_connections":)" + n(s.max_connections);
    out += R"(,"acquired":)" + n(s.acquired) + R"(,"timeouts":)" + n(s.timeouts) + R"(,"created":)" +
           n(s.created) + R"(,"open_failures":)" + n(s.open_failures);
    out += R"(,"closed":{"aged":)" + n(s.closed.aged) + R"(,"idle":)" + n(s.closed.idle) +
           R"(,"unhealthy":)" + n(s.closed.unhealthy) + R"(,"uses":)" + n(s.closed.uses) + R"(,"broken":)" +
           n(s.closed.broken) + R"(,"shutdown":)" + n(s.closed.shutdown) + "}";
    out += R"(,"resets":)" + n(s.resets) + R"(,"failed_health_checks":)" + n(s.failed_health_checks) +
           R"(,"listener_errors":)" + n(s.listener_errors);
    out += R"(,"transactions":{"committed":)" + n(s.transactions.committed) + R"(,"rolled_back":)" +
           n(s.transactions.rolled_back) + R"(,"retried":)" + n(s.transactions.retried) + R"(,"busy_seen":)" +
           n(s.transactions.busy_seen) + R"(,"busy_surfaced":)" + n(s.transactions.busy_surfaced) + "}";
    out += R"(,"wait_ns":{"p50":)" + n(s.wait_p50.count()) + R"(,"p99":)" + n(s.wait_p99.count()) +
           R"(,"max":)" + n(s.wait_max.count()) + "}";
    out += "}";
    return out;
}

} // namespace sqlpool
