// A clock the test moves by hand. Copies share one time, so a test keeps a copy of the clock it
// gave the pool and advances both at once.
#pragma once

#include <chrono>
#include <memory>

namespace sqlpool_test {

class manual_clock {
public:
    using time_point = std::chrono::steady_clock::time_point;
    using duration = std::chrono::steady_clock::duration;

    [[nodiscard]] time_point now() const noexcept { return *now_; }
    void advance(duration by) noexcept { *now_ += by; }

private:
    std::shared_ptr<time_point> now_ = std::make_shared<time_point>(std::chrono::steady_clock::now());
};

} // namespace sqlpool_test
