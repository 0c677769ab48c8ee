// The lifecycle a host drives: a component starts, stops, says its state, and answers health,
// liveness and readiness probes in every state. The database service is one; a host (see :host)
// starts a set of them in dependency order.
module;
#include "detail/gmf.hpp"
export module sqlpool:component;
import :names;

export namespace sqlpool {

// created → starting → running → stopping → stopped; a failed start ends in stopped, and a
// stopped component may start again.
enum class service_state { created, starting, running, stopping, stopped };

// up: serving as it should. degraded: serving, with a problem an operator should see (the
// reasons say which). down: not serving.
enum class availability { up, degraded, down };

} // namespace sqlpool

namespace sqlpool::detail {

inline constexpr enum_names<service_state, 5> service_state_names{{{service_state::created, "created"},
                                                                   {service_state::starting, "starting"},
                                                                   {service_state::running, "running"},
                                                                   {service_state::stopping, "stopping"},
                                                                   {service_state::stopped, "stopped"}}};
static_assert(in_enum_order(service_state_names));

inline constexpr enum_names<availability, 3> availability_names{
    {{availability::up, "up"}, {availability::degraded, "degraded"}, {availability::down, "down"}}};
static_assert(in_enum_order(availability_names));

} // namespace sqlpool::detail

export namespace sqlpool {

[[nodiscard]] constexpr const char* to_string(service_state state) noexcept {
    return detail::name_of(detail::service_state_names, state);
}

[[nodiscard]] constexpr const char* to_string(availability status) noexcept {
    return detail::name_of(detail::availability_names, status);
}

// A component's answer to "how are you?": the worst status any reason called for, and the
// reasons, in the order they were found (empty when up).
struct health_report {
    availability status = availability::up;
    std::vector<std::string> reasons;

    // Adds a reason; the status becomes `at_least` when that is worse.
    void add(availability at_least, std::string reason) {
        status = std::max(status, at_least);
        reasons.push_back(std::move(reason));
    }

    // "degraded: a; b", or "up".
    [[nodiscard]] std::string to_string() const {
        std::string text = sqlpool::to_string(status);
        for (std::size_t i = 0; i < reasons.size(); ++i) text += (i == 0 ? ": " : "; ") + reasons[i];
        return text;
    }
};

// What a host (sqlpool::host, or an application's own) drives:
//   start()   brings it up; returns once running, or throws why it could not (it is then stopped)
//   stop()    takes it down; a stopped component's stop() does nothing; what it returns is its own
//   state()   where it is in its lifecycle
//   health()  up / degraded / down with the reasons, in every state (stopped: down), never throws
//             for a state
//   live()    false only when it cannot recover without a restart (an orchestrator's liveness
//             probe: a stopped component is live)
//   ready()   true when it takes work now (a readiness probe: running, and not down)
// Each may be called from any thread; the probes while start() or stop() runs.
template <class C>
concept component = requires(C& c, const C& cc) {
    c.start();
    c.stop();
    { cc.state() } -> std::same_as<service_state>;
    { c.health() } -> std::same_as<health_report>;
    { c.live() } -> std::convertible_to<bool>;
    { c.ready() } -> std::convertible_to<bool>;
};

} // namespace sqlpool
