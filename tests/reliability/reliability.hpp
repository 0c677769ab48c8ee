// Shared by the reliability scenarios: how much work a run does (SQLPOOL_RELIABILITY_SCALE), which
// build this is (for the figures), a watchdog that turns a hang into a failure, and the
// one-line figures each scenario prints for docs/reliability.md. Plain header: no sqlpool import.
#pragma once

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <utility>

namespace sqlpool_reliability {

#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define SQLPOOL_RELIABILITY_TSAN 1
#endif
#if __has_feature(address_sanitizer)
#define SQLPOOL_RELIABILITY_ASAN 1
#endif
#endif
#if defined(__SANITIZE_THREAD__) && !defined(SQLPOOL_RELIABILITY_TSAN)
#define SQLPOOL_RELIABILITY_TSAN 1
#endif
#if defined(__SANITIZE_ADDRESS__) && !defined(SQLPOOL_RELIABILITY_ASAN)
#define SQLPOOL_RELIABILITY_ASAN 1
#endif

enum class build_kind { plain, asan, tsan };

#if defined(SQLPOOL_RELIABILITY_TSAN)
inline constexpr build_kind build = build_kind::tsan;
#elif defined(SQLPOOL_RELIABILITY_ASAN)
inline constexpr build_kind build = build_kind::asan;
#else
inline constexpr build_kind build = build_kind::plain;
#endif

[[nodiscard]] inline const char* build_name() noexcept {
    switch (build) {
    case build_kind::tsan:
        return "tsan";
    case build_kind::asan:
        return "asan";
    case build_kind::plain:
        break;
    }
    return "plain";
}

// An unsigned number from the environment, or `fallback` when unset or not a number.
[[nodiscard]] inline std::uint64_t env_u64(const char* name, std::uint64_t fallback) {
    const char* text = std::getenv(name);
    if (text == nullptr || *text == '\0') return fallback;
    char* end = nullptr;
    const unsigned long long value = std::strtoull(text, &end, 10);
    return end != nullptr && *end == '\0' ? static_cast<std::uint64_t>(value) : fallback;
}

// SQLPOOL_RELIABILITY_SCALE (a positive decimal, default 1) multiplies every iteration count.
[[nodiscard]] inline double scale_factor() {
    const char* text = std::getenv("SQLPOOL_RELIABILITY_SCALE");
    if (text == nullptr || *text == '\0') return 1.0;
    char* end = nullptr;
    const double value = std::strtod(text, &end);
    return end != nullptr && *end == '\0' && value > 0.0 ? value : 1.0;
}

// An iteration count: `count` times SQLPOOL_RELIABILITY_SCALE. The sanitizer builds
// (RelWithDebInfo) run the same counts as dev (Debug) in about the same time, so nothing is scaled
// down for them today; a scenario that needs it can pick a count by `build`.
[[nodiscard]] inline std::uint64_t scaled(std::uint64_t count) {
    const double value = static_cast<double>(count) * scale_factor();
    return std::max<std::uint64_t>(1, static_cast<std::uint64_t>(value));
}

// The seed for a scenario's randomness: SQLPOOL_RELIABILITY_SEED, or a fixed default so that a
// run is repeatable (thread interleavings still differ from run to run).
[[nodiscard]] inline std::uint64_t seed() {
    return env_u64("SQLPOOL_RELIABILITY_SEED", 20'261'127);
}

// Aborts the process with a message when the guarded scope is still running after `limit`
// (SQLPOOL_WATCHDOG_SECONDS, default 300 s): a hang becomes a failure with a reason, before
// ctest's own TIMEOUT. `status` (optional) adds what the scenario knows, e.g. progress counters;
// it runs on the watchdog thread and must not take locks a hung thread may hold.
class watchdog {
public:
    explicit watchdog(std::string what, std::function<std::string()> status = {})
        : watchdog(std::move(what), std::chrono::seconds(env_u64("SQLPOOL_WATCHDOG_SECONDS", 300)),
                   std::move(status)) {}
    watchdog(std::string what, std::chrono::seconds limit, std::function<std::string()> status = {})
        : what_(std::move(what)), status_(std::move(status)), thread_([this, limit] { run(limit); }) {}
    watchdog(const watchdog&) = delete;
    watchdog& operator=(const watchdog&) = delete;
    ~watchdog() {
        {
            std::lock_guard lock(mutex_);
            done_ = true;
        }
        wakeup_.notify_all();
        thread_.join();
    }

private:
    void run(std::chrono::seconds limit) {
        std::unique_lock lock(mutex_);
        if (wakeup_.wait_for(lock, limit, [this] { return done_; })) return;
        const std::string status = status_ ? status_() : std::string();
        std::fprintf(stderr, "\nWATCHDOG: '%s' still running after %llds: treating it as a hang%s%s\n",
                     what_.c_str(), static_cast<long long>(limit.count()), status.empty() ? "" : "; ",
                     status.c_str());
        std::fflush(stderr);
        // The default action, not Boost.Test's handler: that one would try to carry on with the
        // hung threads still running. ctest reports "Subprocess aborted".
        std::signal(SIGABRT, SIG_DFL);
        std::abort();
    }

    std::string what_;
    std::function<std::string()> status_;
    std::mutex mutex_;
    std::condition_variable wakeup_;
    bool done_ = false;
    std::thread thread_; // last: starts after everything it uses exists
};

// One line of figures, "FIGURES <scenario> [build] key=value ...", on stdout for the docs.
inline void figures(const std::string& scenario, const std::string& text) {
    std::printf("FIGURES %s [%s] %s\n", scenario.c_str(), build_name(), text.c_str());
    std::fflush(stdout);
}

} // namespace sqlpool_reliability
