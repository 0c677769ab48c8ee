// stat_counters: what a pool counts as it runs, behind the pool_stats snapshot of :stats — the
// counters and the wait-time histogram behind its percentiles.
module;
#include "detail/gmf.hpp"
export module sqlpool:stat_counters;
import :stats;

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
    [[nodiscard]] std::uint64_t count() const noexcept { return count_; }
    // Adds `n` acquires that did not wait (a pool records only those that queued).
    void record_zero_waits(std::uint64_t n) noexcept {
        counts_[0] += n;
        count_ += n;
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

// A pool's counts behind pool_stats. Those counted on every acquire or return are atomics (or,
// for leases handed out, per slot); the rest change under the pool's lock.
struct pool_counters {
    std::uint64_t timeouts = 0;
    std::uint64_t created = 0;
    std::uint64_t open_failures = 0;
    std::atomic<std::uint64_t> resets{0};
    std::atomic<std::uint64_t> failed_health_checks{0};
    std::atomic<std::uint64_t> listener_errors{0};
    std::atomic<std::uint64_t> long_leases{0};
    retired_counts closed;
    wait_histogram waits; // the acquires that queued; the rest did not wait

    // Under the pool's lock, with s.acquired set: the counts and the wait quantiles.
    void report(pool_stats& s) const {
        s.timeouts = timeouts;
        s.created = created;
        s.open_failures = open_failures;
        s.closed = closed;
        s.resets = resets.load(std::memory_order_relaxed);
        s.failed_health_checks = failed_health_checks.load(std::memory_order_relaxed);
        s.listener_errors = listener_errors.load(std::memory_order_relaxed);
        s.long_leases = long_leases.load(std::memory_order_relaxed);
        wait_histogram all = waits; // plus the acquires that took the fast path
        all.record_zero_waits(s.acquired - std::min(s.acquired, all.count()));
        s.wait_p50 = all.quantile(0.50);
        s.wait_p99 = all.quantile(0.99);
        s.wait_max = all.max();
    }
};

} // namespace sqlpool::detail
