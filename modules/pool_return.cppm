// pool_return: what the pool does to one connection on its way out and back in — the health
// checks at checkout and return, and the reset that makes a returned connection clean for the next
// borrower, with its verdict (stays, or retires and why).
module;
#include "detail/gmf.hpp"
export module sqlpool:pool_return;
import :session;
import :config;
import :connection_info;
import :lease;
import :health;
import :recycling;

namespace sqlpool::detail {

// Runs the health policy and records its answer; a check that throws counts as unhealthy.
template <class Health, class Slot>
health_status run_check(Health& health, Slot& s, check_point point) noexcept {
    health_status status = health_status::unhealthy;
    try {
        status = health.check(s.conn, s.info, point);
    } catch (...) {
        // Deliberately ignored: a check that throws counts as unhealthy.
    }
    s.info.health = status;
    return status;
}

// Whether an idle connection may be handed out at `now` (the pool clock's): not broken, and
// healthy when the policy checks on checkout (unless it came back within health_traits'
// checkout_bypass).
template <class Health, class Slot>
bool checkout_healthy(Health& health, std::chrono::steady_clock::time_point now, Slot& s) {
    if (s.conn.broken_code() != 0) return false;
    if constexpr (includes(Health::when, check_point::on_checkout)) {
        constexpr auto bypass = health_traits<Health>::checkout_bypass;
        if constexpr (bypass > bypass.zero()) {
            if (now - s.info.last_used_at < bypass) return true;
        }
        s.info.last_checked_at = now;
        return run_check(health, s, check_point::on_checkout) != health_status::unhealthy;
    }
    return true;
}

// What a return decided: whether the connection needed a reset, and whether it stays (`none`).
struct return_verdict {
    retire_reason reason = retire_reason::none;
    bool reset = false;
};

// The session's reset (see reset_verdict), then the policies' judgement of the connection. A
// session that retires itself is not counted as reset. Inlined by force into the return: its call
// frame cost 18 instructions a return.
template <class Slot, class Level, class Health, class Recycling, class Clock>
[[gnu::always_inline]] inline return_verdict reset_on_return(Slot& s, Level default_level, Health& health,
                                                             const Recycling& recycling, Clock& clock,
                                                             const pool_config& config) {
    const reset_verdict reset = s.conn.reset_for_reuse();
    if (reset == reset_verdict::retire) [[unlikely]] {
        if (const int code = s.conn.broken_code(); code != 0) s.info.last_error = code;
        return {retire_reason::broken, false};
    }
    return_verdict verdict{.reset = reset == reset_verdict::restored};
    s.conn.set_default_isolation(default_level); // set_default_isolation() is per lease
    const auto now = clock.now();
    ++s.info.use_count;
    s.info.last_used_at = now;
    if constexpr (includes(Health::when, check_point::on_return)) {
        if (run_check(health, s, check_point::on_return) == health_status::unhealthy)
            return {retire_reason::unhealthy, verdict.reset};
    }
    verdict.reason = recycling.retire(s.info, {.now = now, .config = config});
    return verdict;
}

} // namespace sqlpool::detail
