// The vocabulary the pool and its policies share: a pooled connection's metadata, health states,
// when checks run, why connections retire, and which clocks a pool accepts.
module;
#include "detail/gmf.hpp"
export module sqlpool:connection_info;
import :names;

export namespace sqlpool {

// Pools measure ages with a steady clock's time_point; tests substitute a clock they move by hand.
template <class C>
concept pool_clock = requires(C& clock) {
    { clock.now() } -> std::same_as<std::chrono::steady_clock::time_point>;
};

// std::chrono::steady_clock's timeline (CLOCK_MONOTONIC) read at the kernel tick's resolution (1 to
// 10 ms) from CLOCK_MONOTONIC_COARSE, which costs a fraction of a precise read: the pool's default
// clock, read on every acquire and return, where ages and idle times are seconds. Elsewhere than
// Linux it is steady_clock itself.
struct coarse_steady_clock {
    [[nodiscard]] inline static std::chrono::steady_clock::time_point now() noexcept {
#ifdef CLOCK_MONOTONIC_COARSE
        timespec ts{};
        if (::clock_gettime(CLOCK_MONOTONIC_COARSE, &ts) == 0)
            return std::chrono::steady_clock::time_point(
                std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                    std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec)));
#endif
        return std::chrono::steady_clock::now();
    }
};

enum class health_status { healthy, unhealthy, unknown };

// When a health policy runs. Combine with |.
enum class check_point : unsigned { none = 0, on_checkout = 1, on_return = 2, periodic = 4 };

[[nodiscard]] constexpr check_point operator|(check_point a, check_point b) noexcept {
    return static_cast<check_point>(static_cast<unsigned>(a) | static_cast<unsigned>(b));
}
[[nodiscard]] constexpr bool includes(check_point set, check_point point) noexcept {
    return (static_cast<unsigned>(set) & static_cast<unsigned>(point)) != 0;
}

// Why a connection left the pool. `none` from a recycling policy means "keep it".
enum class retire_reason { none, aged, idle, uses, unhealthy, broken, shutdown, evicted };

} // namespace sqlpool

namespace sqlpool::detail {

// The one list of each enum's names (metric labels and pool_stats' JSON keys read it too).
inline constexpr enum_names<retire_reason, 8> retire_reason_names{{{retire_reason::none, "none"},
                                                                   {retire_reason::aged, "aged"},
                                                                   {retire_reason::idle, "idle"},
                                                                   {retire_reason::uses, "uses"},
                                                                   {retire_reason::unhealthy, "unhealthy"},
                                                                   {retire_reason::broken, "broken"},
                                                                   {retire_reason::shutdown, "shutdown"},
                                                                   {retire_reason::evicted, "evicted"}}};
static_assert(in_enum_order(retire_reason_names));

inline constexpr enum_names<health_status, 3> health_status_names{{{health_status::healthy, "healthy"},
                                                                   {health_status::unhealthy, "unhealthy"},
                                                                   {health_status::unknown, "unknown"}}};
static_assert(in_enum_order(health_status_names));

} // namespace sqlpool::detail

export namespace sqlpool {

[[nodiscard]] constexpr const char* to_string(retire_reason reason) noexcept {
    return detail::name_of(detail::retire_reason_names, reason);
}

[[nodiscard]] constexpr const char* to_string(health_status status) noexcept {
    return detail::name_of(detail::health_status_names, status);
}

// What the pool knows about one of its connections.
struct connection_info {
    using time_point = std::chrono::steady_clock::time_point;

    std::uint64_t id = 0; // unique within the pool, in opening order
    time_point created_at;
    time_point last_used_at;     // when it was last returned (created_at before that)
    time_point last_checked_at;  // last health check (created_at before that)
    std::uint64_t use_count = 0; // completed leases
    health_status health = health_status::unknown;
    int last_error = 0;      // extended result code of the error that broke it, or 0
    double age_jitter = 0.0; // this connection's random draw in [0, 1) for max-age jitter
    // The database file's identity when the connection opened (0 for in-memory databases).
    std::uint64_t file_device = 0;
    std::uint64_t file_inode = 0;
};

} // namespace sqlpool
