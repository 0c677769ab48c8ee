// pool_stats: a snapshot of what a pool holds and has done, and the wait-time histogram behind
// its percentiles.
module;
#include "detail/gmf.hpp"
export module sqlpool:stats;
import :connection_info;

export namespace sqlpool {

struct retired_counts {
    std::uint64_t aged = 0;
    std::uint64_t idle = 0;
    std::uint64_t unhealthy = 0;
    std::uint64_t uses = 0;
    std::uint64_t broken = 0; // an error made it unusable, or its reset on return failed
    std::uint64_t shutdown = 0;

    [[nodiscard]] std::uint64_t total() const noexcept {
        return aged + idle + unhealthy + uses + broken + shutdown;
    }
    void add(retire_reason reason, std::uint64_t n = 1) noexcept {
        switch (reason) {
        case retire_reason::aged:
            aged += n;
            break;
        case retire_reason::idle:
            idle += n;
            break;
        case retire_reason::unhealthy:
            unhealthy += n;
            break;
        case retire_reason::uses:
            uses += n;
            break;
        case retire_reason::broken:
            broken += n;
            break;
        case retire_reason::shutdown:
            shutdown += n;
            break;
        case retire_reason::none:
            break;
        }
    }
};

struct transaction_counts {
    std::uint64_t committed = 0;
    std::uint64_t rolled_back = 0;
    std::uint64_t retried = 0;       // attempts the runner repeated after SQLITE_BUSY
    std::uint64_t busy_seen = 0;     // busy errors the runner caught
    std::uint64_t busy_surfaced = 0; // busy errors that reached the caller
};

struct pool_stats {
    std::size_t total = 0; // open connections, leased or idle
    std::size_t idle = 0;
    std::size_t in_use = 0;  // leased, being opened, or being checked by maintenance
    std::size_t waiting = 0; // threads blocked in acquire()
    std::size_t max_connections = 0;
    std::uint64_t acquired = 0; // leases handed out
    std::uint64_t timeouts = 0;
    std::uint64_t created = 0; // connections opened
    std::uint64_t open_failures = 0;
    retired_counts closed;    // connections closed, by reason
    std::uint64_t resets = 0; // returns that needed a rollback or a statement reset
    std::uint64_t failed_health_checks = 0;
    std::uint64_t listener_errors = 0; // exceptions a pool_listener threw (and the pool swallowed)
    transaction_counts transactions;
    std::chrono::nanoseconds wait_p50{};
    std::chrono::nanoseconds wait_p99{};
    std::chrono::nanoseconds wait_max{};
};

// Adds `more` to `into` (the read_write_pool's two sides): counts summed, wait percentiles the larger.
inline pool_stats& operator+=(pool_stats& into, const pool_stats& more) noexcept {
    into.total += more.total;
    into.idle += more.idle;
    into.in_use += more.in_use;
    into.waiting += more.waiting;
    into.max_connections += more.max_connections;
    into.acquired += more.acquired;
    into.timeouts += more.timeouts;
    into.created += more.created;
    into.open_failures += more.open_failures;
    into.closed.aged += more.closed.aged;
    into.closed.idle += more.closed.idle;
    into.closed.unhealthy += more.closed.unhealthy;
    into.closed.uses += more.closed.uses;
    into.closed.broken += more.closed.broken;
    into.closed.shutdown += more.closed.shutdown;
    into.resets += more.resets;
    into.failed_health_checks += more.failed_health_checks;
    into.listener_errors += more.listener_errors;
    into.transactions.committed += more.transactions.committed;
    into.transactions.rolled_back += more.transactions.rolled_back;
    into.transactions.retried += more.transactions.retried;
    into.transactions.busy_seen += more.transactions.busy_seen;
    into.transactions.busy_surfaced += more.transactions.busy_surfaced;
    into.wait_p50 = std::max(into.wait_p50, more.wait_p50);
    into.wait_p99 = std::max(into.wait_p99, more.wait_p99);
    into.wait_max = std::max(into.wait_max, more.wait_max);
    return into;
}

} // namespace sqlpool

namespace sqlpool::detail {

// A log-linear histogram of wait times: exact below 16 ns, then 8 buckets per power of two
// (12.5 % resolution). Fixed size, no allocation; the pool updates it under its lock.
class wait_histogram {
public:
    void record(std::chrono::nanoseconds wait) noexcept {
        if (wait.count() <= 0) { // the common case, an acquire that did not wait
            ++counts_[0];
            ++count_;
            return;
        }
        const auto ns = static_cast<std::uint64_t>(std::max<std::int64_t>(wait.count(), 0));
        ++counts_[index(ns)];
        ++count_;
        max_ = std::max(max_, ns);
    }

    // The upper bound of the bucket holding quantile q (0..1).
    [[nodiscard]] std::chrono::nanoseconds quantile(double q) const noexcept {
        if (count_ == 0) return {};
        const auto rank = static_cast<std::uint64_t>(q * static_cast<double>(count_ - 1)) + 1;
        std::uint64_t seen = 0;
        for (std::size_t i = 0; i < counts_.size(); ++i) {
            seen += counts_[i];
            if (seen >= rank)
                return std::chrono::nanoseconds(static_cast<std::int64_t>(std::min(upper(i), max_)));
        }
        return max();
    }
    [[nodiscard]] std::chrono::nanoseconds max() const noexcept {
        return std::chrono::nanoseconds(static_cast<std::int64_t>(max_));
    }

private:
    static constexpr std::size_t linear = 16;
    static constexpr std::size_t sub_buckets = 8;

    static std::size_t index(std::uint64_t ns) noexcept {
        if (ns < linear) return static_cast<std::size_t>(ns);
        const auto exponent = static_cast<std::size_t>(std::bit_width(ns) - 1); // >= 4
        const auto sub = static_cast<std::size_t>((ns >> (exponent - 3)) & (sub_buckets - 1));
        return linear + ((exponent - 4) * sub_buckets) + sub;
    }
    static std::uint64_t upper(std::size_t i) noexcept {
        if (i < linear) return i;
        const std::size_t exponent = ((i - linear) / sub_buckets) + 4;
        const std::size_t sub = (i - linear) % sub_buckets;
        const std::uint64_t low = (std::uint64_t{1} << exponent) + (std::uint64_t{sub} << (exponent - 3));
        return low + (std::uint64_t{1} << (exponent - 3)) - 1;
    }

    std::array<std::uint64_t, linear + ((64 - 4) * sub_buckets)> counts_{};
    std::uint64_t count_ = 0;
    std::uint64_t max_ = 0;
};

} // namespace sqlpool::detail
