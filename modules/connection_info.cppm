// The vocabulary the pool and its policies share: a pooled connection's metadata, health states,
// when checks run, why connections retire, and which clocks a pool accepts.
module;
#include "detail/gmf.hpp"
export module sqlpool:connection_info;

export namespace sqlpool {

// Pools measure ages with a steady clock's time_point; tests substitute a clock they move by hand.
template <class C>
concept pool_clock = requires(C& clock) {
    { clock.now() } -> std::same_as<std::chrono::steady_clock::time_point>;
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
enum class retire_reason { none, aged, idle, uses, unhealthy, broken, shutdown };

[[nodiscard]] constexpr const char* to_string(retire_reason reason) noexcept {
    switch (reason) {
    case retire_reason::none:
        return "none";
    case retire_reason::aged:
        return "aged";
    case retire_reason::idle:
        return "idle";
    case retire_reason::uses:
        return "uses";
    case retire_reason::unhealthy:
        return "unhealthy";
    case retire_reason::broken:
        return "broken";
    case retire_reason::shutdown:
        return "shutdown";
    }
    return "?";
}

[[nodiscard]] constexpr const char* to_string(health_status status) noexcept {
    switch (status) {
    case health_status::healthy:
        return "healthy";
    case health_status::unhealthy:
        return "unhealthy";
    case health_status::unknown:
        return "unknown";
    }
    return "?";
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
