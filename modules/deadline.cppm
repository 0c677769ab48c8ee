// deadline: one limit for a whole call — the wait for a connection, the waits for SQLite's locks
// and the statements themselves — as a time point, a stop_token, or both.
module;
#include "detail/gmf.hpp"
export module sqlpool:deadline;

export namespace sqlpool {

// When a call must give up: at a time point of the steady clock, when its stop_token is asked to
// stop, or whichever comes first. A default deadline never passes. Cheap to copy (a time point
// and a stop_token). The constructors are explicit so that a bare duration still means the
// timeout overloads it always meant: write `pool.acquire(sqlpool::deadline{2s})`.
class deadline {
public:
    using clock = std::chrono::steady_clock;

    deadline() = default;
    explicit deadline(clock::time_point at, std::stop_token stop = {}) noexcept
        : at_(at), stop_(std::move(stop)) {}
    // `in` from now; saturates instead of overflowing (duration::max() never passes).
    template <class Rep, class Period>
    explicit deadline(std::chrono::duration<Rep, Period> in, std::stop_token stop = {})
        : at_(from_now(in)), stop_(std::move(stop)) {}
    explicit deadline(std::stop_token stop) noexcept : stop_(std::move(stop)) {}

    [[nodiscard]] clock::time_point at() const noexcept { return at_; }
    [[nodiscard]] const std::stop_token& stop_token() const noexcept { return stop_; }
    // True when it can pass at all: a time point, or a stop_token that can be asked to stop.
    [[nodiscard]] bool bounded() const noexcept {
        return at_ != clock::time_point::max() || stop_.stop_possible();
    }
    [[nodiscard]] bool stop_requested() const noexcept { return stop_.stop_requested(); }
    // True once the time point is reached or a stop was asked for.
    [[nodiscard]] bool passed() const noexcept { return stop_requested() || clock::now() >= at_; }
    [[nodiscard]] bool passed(clock::time_point now) const noexcept { return stop_requested() || now >= at_; }
    // The earlier of this deadline and `other_at`, with this deadline's stop_token.
    [[nodiscard]] deadline capped_at(clock::time_point other_at) const {
        return deadline(std::min(at_, other_at), stop_);
    }

private:
    template <class Rep, class Period>
    static clock::time_point from_now(std::chrono::duration<Rep, Period> in) {
        const auto now = clock::now();
        if (in <= in.zero()) return now;
        const std::chrono::duration<double> room = clock::time_point::max() - now;
        if (std::chrono::duration<double>(in) >= room) return clock::time_point::max();
        return now + std::chrono::duration_cast<clock::duration>(in);
    }

    clock::time_point at_ = clock::time_point::max();
    std::stop_token stop_;
};

} // namespace sqlpool
