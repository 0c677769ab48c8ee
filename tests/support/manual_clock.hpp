// A clock a test moves by hand, for pools built with a `Clock` parameter. The pool keeps a copy of
// the clock it is given; copies share one atomic time, so the test advances the pool's clock
// through its own copy (or through pool.clock()). Safe to read from the pool's threads while the
// test advances it.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>

namespace sqlpool_test {

class manual_clock {
public:
    using time_point = std::chrono::steady_clock::time_point;
    using duration = std::chrono::steady_clock::duration;

    // Starts at a fixed, arbitrary instant well after the clock's epoch, so runs are reproducible.
    manual_clock() : manual_clock(time_point{std::chrono::hours(24)}) {}
    explicit manual_clock(time_point start)
        : now_(std::make_shared<std::atomic<duration::rep>>(start.time_since_epoch().count())) {}

    [[nodiscard]] time_point now() const noexcept { return time_point{duration{now_->load()}}; }
    void advance(duration by) noexcept { now_->fetch_add(by.count()); }
    void set(time_point to) noexcept { now_->store(to.time_since_epoch().count()); }

private:
    std::shared_ptr<std::atomic<duration::rep>> now_;
};

} // namespace sqlpool_test
