// The vocabulary the pool and its policies share: a pooled connection's metadata, health states,
// when checks run, why connections retire, which clocks a pool accepts, and what a pool reports of
// its connections (who holds them, what connections() and close() saw).
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
enum class retire_reason { none, aged, idle, uses, unhealthy, broken, shutdown, evicted, resized };

} // namespace sqlpool

namespace sqlpool::detail {

// The one list of each enum's names (metric labels and pool_stats' JSON keys read it too).
inline constexpr enum_names<retire_reason, 9> retire_reason_names{{{retire_reason::none, "none"},
                                                                   {retire_reason::aged, "aged"},
                                                                   {retire_reason::idle, "idle"},
                                                                   {retire_reason::uses, "uses"},
                                                                   {retire_reason::unhealthy, "unhealthy"},
                                                                   {retire_reason::broken, "broken"},
                                                                   {retire_reason::shutdown, "shutdown"},
                                                                   {retire_reason::evicted, "evicted"},
                                                                   {retire_reason::resized, "resized"}}};
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

export namespace sqlpool {

// Who held a leased connection at some moment: the thread that acquired it, the caller's source
// location, and for how long (by the pool's clock).
struct lease_holder {
    std::thread::id thread;
    std::source_location where;
    std::chrono::nanoseconds held_for{};
};

// "thread 140234 has held one for 5012ms, acquired at app.cpp:42 (void handle(request))"
[[nodiscard]] inline std::string describe(const lease_holder& holder) {
    std::ostringstream text;
    text << "thread " << holder.thread << " has held one for "
         << std::chrono::duration_cast<std::chrono::milliseconds>(holder.held_for).count()
         << "ms, acquired at " << holder.where.file_name() << ":" << holder.where.line() << " ("
         << holder.where.function_name() << ")";
    return text.str();
}

// Where a connection of a pool was when connections() looked: being opened, idle, leased to a
// caller, or held by the pool itself (a health check, the reset on return, closing).
enum class connection_use : std::uint8_t { opening, idle, leased, tended };

// One connection of a pool as connections() saw it. The figures are read one at a time while the
// pool runs: a snapshot, not a fact (a connection that moved meanwhile may mix two moments).
struct connection_snapshot {
    std::size_t slot = 0; // its place in the pool's table (stable while it lives)
    connection_use use = connection_use::idle;
    connection_info info; // id, created_at, last_used_at, use_count, health, ... (as of its last return)
    std::optional<lease_holder> holder; // when leased: who, where, for how long
    // The statements it runs now, when one has run for a while (over a thousand virtual machine
    // instructions, or a lock wait under a deadline); "" otherwise.
    std::string sql;
};

// What close(timeout) found: whether every connection closed in time, how many leases still out
// after the timeout had a statement interrupted (one that had run for a while; it failed with
// pool_closed_error, and the lease stays usable), and the connections still out when it returned,
// with their holders.
struct close_report {
    bool complete = false;
    std::size_t interrupted = 0;
    std::vector<connection_snapshot> stragglers;
    explicit operator bool() const noexcept { return complete; }
};

} // namespace sqlpool

namespace sqlpool::detail {

inline constexpr enum_names<connection_use, 4> connection_use_names{{{connection_use::opening, "opening"},
                                                                     {connection_use::idle, "idle"},
                                                                     {connection_use::leased, "leased"},
                                                                     {connection_use::tended, "tended"}}};
static_assert(in_enum_order(connection_use_names));

} // namespace sqlpool::detail

export namespace sqlpool {

[[nodiscard]] constexpr const char* to_string(connection_use use) noexcept {
    return detail::name_of(detail::connection_use_names, use);
}

// "connection 3 (slot 2, leased, 12 uses): thread ... has held one for ...; running: SELECT ..."
[[nodiscard]] inline std::string describe(const connection_snapshot& c) {
    std::string text = "connection " + std::to_string(c.info.id) + " (slot " + std::to_string(c.slot) + ", " +
                       to_string(c.use) + ", " + std::to_string(c.info.use_count) + " uses)";
    if (c.holder) text += ": " + describe(*c.holder);
    if (!c.sql.empty()) text += "; running: " + c.sql;
    return text;
}

} // namespace sqlpool
