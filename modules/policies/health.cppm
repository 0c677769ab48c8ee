// Health policies: whether a connection may be handed out or kept, and when to ask.
module;
#include "../detail/gmf.hpp"
export module sqlpool:health;
import :errors;
import :sqlite;
import :connection_info;

export namespace sqlpool {

// A health policy states when it runs (`when`, a check_point set) and checks one session (a
// SQLite connection unless named). check() runs outside the pool's lock and may run on several
// threads at once, each with its own session. It should not throw; if it does, the session counts
// as unhealthy. What else the pool needs to know about it comes from health_traits.
template <class H, class Session = connection>
concept health_policy =
    std::copy_constructible<H> && requires(H& policy, Session& conn, const connection_info& info) {
        { H::when } -> std::convertible_to<check_point>;
        { policy.check(conn, info, check_point::on_checkout) } -> std::same_as<health_status>;
    };

// The defaults for a health policy; specialise it for a policy that differs.
template <class H>
struct health_traits {
    // A connection returned more recently than this is handed out without its on-checkout check.
    static constexpr std::chrono::nanoseconds checkout_bypass{0};
};

} // namespace sqlpool

namespace sqlpool::detail {

[[nodiscard]] constexpr int severity(health_status status) noexcept {
    switch (status) {
    case health_status::healthy:
        return 0;
    case health_status::unknown:
        return 1;
    case health_status::unhealthy:
        return 2;
    }
    return 2;
}

} // namespace sqlpool::detail

export namespace sqlpool::health {

// The session's ping(): for a SQLite connection, it answers a trivial cached statement, is in
// autocommit mode, and its database file is still the one at its path (not deleted or replaced).
// Checked on checkout when the connection sat idle for more than half a second
// (health_traits<ping>), and periodically.
struct ping {
    static constexpr check_point when = check_point::on_checkout | check_point::periodic;

    template <class Session>
    health_status check(Session& conn, const connection_info&, check_point) const noexcept {
        try {
            return conn.ping() ? health_status::healthy : health_status::unhealthy;
        } catch (...) {
            return health_status::unhealthy;
        }
    }
};

// The database file's device and inode still match what the connection opened: a file deleted
// or replaced underneath (by a restore, say) leaves connections writing to a ghost.
struct file_identity {
    static constexpr check_point when = check_point::on_checkout | check_point::periodic;

    health_status check(connection& conn, const connection_info& info, check_point) const noexcept {
        if (info.file_inode == 0) return health_status::unknown; // in-memory: nothing to compare
        struct stat now_st{};
        try {
            const char* name = conn.filename();
            if (*name == '\0' || ::stat(name, &now_st) != 0) return health_status::unhealthy;
        } catch (...) {
            return health_status::unhealthy;
        }
        return static_cast<std::uint64_t>(now_st.st_dev) == info.file_device &&
                       static_cast<std::uint64_t>(now_st.st_ino) == info.file_inode
                   ? health_status::healthy
                   : health_status::unhealthy;
    }
};

// PRAGMA quick_check: reads the whole database, so it runs periodically only.
struct quick_check {
    static constexpr check_point when = check_point::periodic;

    health_status check(connection& conn, const connection_info&, check_point) const noexcept {
        try {
            return conn.query_value<std::string>("PRAGMA quick_check") == "ok" ? health_status::healthy
                                                                               : health_status::unhealthy;
        } catch (...) {
            return health_status::unhealthy;
        }
    }
};

struct no_check {
    static constexpr check_point when = check_point::none;
    template <class Session>
    health_status check(Session&, const connection_info&, check_point) const noexcept {
        return health_status::healthy;
    }
};

// Every policy that runs at this point checks; the worst answer wins.
template <class... Policies>
struct all_of {
    static constexpr check_point when = (check_point::none | ... | Policies::when);

    template <class Session>
        requires(health_policy<Policies, Session> && ...)
    health_status check(Session& conn, const connection_info& info, check_point point) {
        health_status worst = health_status::healthy;
        std::apply(
            [&](auto&... policy) {
                (
                    [&](auto& one) {
                        if (!includes(std::remove_cvref_t<decltype(one)>::when, point)) return;
                        const health_status status = one.check(conn, info, point);
                        if (detail::severity(status) > detail::severity(worst)) worst = status;
                    }(policy),
                    ...);
            },
            policies);
        return worst;
    }

    std::tuple<Policies...> policies;
};

} // namespace sqlpool::health

export namespace sqlpool {

template <>
struct health_traits<health::ping> {
    static constexpr std::chrono::nanoseconds checkout_bypass = std::chrono::milliseconds(500);
};

} // namespace sqlpool
