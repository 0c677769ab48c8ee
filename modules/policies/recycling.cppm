// Recycling policies: when a healthy connection retires.
module;
#include "../detail/gmf.hpp"
export module sqlpool:recycling;
import :config;
import :connection_info;

export namespace sqlpool {

// What a recycling policy is told when it is asked about one connection.
struct recycle_context {
    std::chrono::steady_clock::time_point now;
    const pool_config&
        config; // NOLINT(cppcoreguidelines-avoid-const-or-ref-data-members): a view for one call
    // The connection is idle (asked during maintenance, not on its return) and the pool has more
    // than min_connections open: retiring it for idleness would shrink the pool, not empty a slot.
    bool may_shrink = false;
};

// A recycling policy answers, for one connection at one moment, whether it should retire and why
// (retire_reason::none keeps it). The pool asks when a connection is returned and during
// maintenance, and retires the connection whenever the answer is not `none`.
template <class R>
concept recycling_policy =
    std::copy_constructible<R> &&
    requires(const R& policy, const connection_info& info, const recycle_context& context) {
        { policy.retire(info, context) } -> std::same_as<retire_reason>;
    };

} // namespace sqlpool

export namespace sqlpool::recycling {

// Retires after config.connection_max_age, shortened by up to config.max_age_jitter of it
// (the connection's own random draw), so connections opened together retire apart.
struct max_age {
    [[nodiscard]] static std::chrono::steady_clock::duration lifetime(const connection_info& info,
                                                                      const pool_config& config) {
        const auto max =
            std::chrono::duration_cast<std::chrono::steady_clock::duration>(config.connection_max_age);
        const double keep = 1.0 - (config.max_age_jitter * info.age_jitter);
        return std::chrono::duration_cast<std::chrono::steady_clock::duration>(max * keep);
    }
    [[nodiscard]] retire_reason retire(const connection_info& info, const recycle_context& context) const {
        return context.now - info.created_at >= lifetime(info, context.config) ? retire_reason::aged
                                                                               : retire_reason::none;
    }
};

// Retires after Limit leases; Limit 0 takes config.max_uses (where 0 means unlimited).
template <std::uint64_t Limit = 0>
struct max_uses {
    [[nodiscard]] retire_reason retire(const connection_info& info, const recycle_context& context) const {
        const std::uint64_t limit = Limit != 0 ? Limit : context.config.max_uses;
        return limit != 0 && info.use_count >= limit ? retire_reason::uses : retire_reason::none;
    }
};

// Retires a connection unused for config.idle_timeout while the pool may shrink (more than
// min_connections open).
struct idle_timeout {
    [[nodiscard]] retire_reason retire(const connection_info& info, const recycle_context& context) const {
        return context.may_shrink && context.now - info.last_used_at >= context.config.idle_timeout
                   ? retire_reason::idle
                   : retire_reason::none;
    }
};

struct never {
    [[nodiscard]] retire_reason retire(const connection_info&, const recycle_context&) const {
        return retire_reason::none;
    }
};

// The first policy that wants the connection retired decides.
template <recycling_policy... Policies>
struct any_of {
    [[nodiscard]] retire_reason retire(const connection_info& info, const recycle_context& context) const {
        retire_reason reason = retire_reason::none;
        std::apply(
            [&](const auto&... policy) {
                ((reason == retire_reason::none ? (void)(reason = policy.retire(info, context)) : void()),
                 ...);
            },
            policies);
        return reason;
    }

    std::tuple<Policies...> policies;
};

// The default: every recycling knob of pool_config in force — max age with jitter, max_uses and
// idle_timeout.
using standard = any_of<max_age, max_uses<>, idle_timeout>;

} // namespace sqlpool::recycling
