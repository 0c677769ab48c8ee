// pool_maintenance: one round of a pool's upkeep — retire what the recycling policy retires, run
// the periodic health checks and the idle upkeep that are due, grow back to min_connections — as a
// mixin of the core.
module;
#include "detail/gmf.hpp"
export module sqlpool:pool_maintenance;
import :config;
import :connection_info;
import :events;
import :lease;
import :pool_slots;
import :pool_return;

namespace sqlpool::detail {

// Core derives from pool_maintenance<Core> and befriends it; it names the members used here.
template <class Core>
class pool_maintenance {
public:
    // Retires aged, idle (above min_connections), over-used and unhealthy idle connections, runs
    // the periodic health checks and idle upkeep that are due, and opens connections up to
    // min_connections.
    void maintain(std::chrono::steady_clock::time_point now) {
        Core& core = self();
        typename Core::lock_type lock(core.mutex_);
        if (core.closed_.load(std::memory_order_relaxed)) return;
        auto [retiring, tending] = sort_idle(now);
        lock.unlock();
        for (const auto& [i, reason] : retiring) core.retire(i, reason);
        std::vector<std::size_t> healthy = tend(tending, now);
        lock.lock();
        core.settle(lock, std::move(healthy)); // closes them when close() ran meanwhile
        core.replenish(lock, now);
        lock.unlock();
        report_long_leases(now);
    }

private:
    friend Core;
    pool_maintenance() = default;

    Core& self() noexcept { return static_cast<Core&>(*this); }

    struct idle_sort {
        std::vector<std::pair<std::size_t, retire_reason>> retiring;
        std::vector<std::size_t> tending; // due for a periodic health check or idle upkeep
    };

    template <class Slot>
    bool check_due(const Slot& s, std::chrono::steady_clock::time_point now) const {
        return includes(Core::health_type::when, check_point::periodic) &&
               now - s.info.last_checked_at >= self_config().health_check_interval;
    }
    // Used since its last upkeep, and idle for idle_upkeep_after since.
    template <class Slot>
    bool upkeep_due(const Slot& s, std::chrono::steady_clock::time_point now) const {
        const auto after = self_config().idle_upkeep_after;
        return after > std::chrono::milliseconds::zero() && s.tended_uses != s.info.use_count &&
               now - s.info.last_used_at >= after;
    }
    [[nodiscard]] const pool_config& self_config() const noexcept { return static_cast<const Core&>(*this).config_; }

    // Leases held past lease_warn_after, each once: counted, and told to the listener.
    void report_long_leases(std::chrono::steady_clock::time_point now) {
        Core& core = self();
        const std::chrono::nanoseconds after = core.config_.lease_warn_after;
        if (after <= std::chrono::nanoseconds::zero()) return;
        for (const lease_holder& held : core.slots_.unreported_long_leases(now, after)) {
            core.counts_.long_leases.fetch_add(1, std::memory_order_relaxed);
            core.notify([&](pool_listener& listener) { listener.on_long_lease(held); });
        }
    }

    // Takes out of the idle set (under the lock) what retires now and what is due for a check or
    // upkeep.
    idle_sort sort_idle(std::chrono::steady_clock::time_point now) {
        Core& core = self();
        const pool_config& config = core.config_;
        std::size_t staying = core.slots_.counts().total;
        idle_sort out;
        std::vector<retire_reason> reasons; // in the order take_idle_if takes them
        const std::vector<std::size_t> taken = core.take_idle_if([&](const auto& s) {
            // A slot beyond the limit went idle while resize() lowered it: it closes now.
            const retire_reason reason =
                s.index >= core.slots_.limit()
                    ? retire_reason::resized
                    : core.recycling_.retire(
                          s.info,
                          {.now = now, .config = config, .may_shrink = staying > core.min_connections()});
            if (reason == retire_reason::none && !check_due(s, now) && !upkeep_due(s, now)) return false;
            if (reason != retire_reason::none) --staying;
            reasons.push_back(reason);
            return true;
        });
        for (std::size_t k = 0; k < taken.size(); ++k) {
            if (reasons[k] != retire_reason::none)
                out.retiring.emplace_back(taken[k], reasons[k]);
            else
                out.tending.push_back(taken[k]);
        }
        return out;
    }

    // Runs the periodic checks and idle upkeep outside the lock and retires the slots that fail
    // their check; returns the rest.
    std::vector<std::size_t> tend(const std::vector<std::size_t>& tending,
                                  std::chrono::steady_clock::time_point now) {
        Core& core = self();
        std::vector<std::size_t> healthy;
        for (const std::size_t i : tending) {
            auto& s = *core.slots_.at(i).held;
            if (check_due(s, now) && !check_periodic(s, now)) {
                core.retire(i, retire_reason::unhealthy);
                continue;
            }
            if (upkeep_due(s, now)) {
                s.conn.idle_upkeep();
                s.tended_uses = s.info.use_count;
            }
            healthy.push_back(i);
        }
        return healthy;
    }

    // One periodic check; false (counted and reported) when it fails.
    template <class Slot>
    bool check_periodic(Slot& s, std::chrono::steady_clock::time_point now) {
        Core& core = self();
        s.info.last_checked_at = now;
        const health_status status = run_check(core.health_, s, check_point::periodic);
        core.slots_.at(s.index).publish_use(s.info);
        if (status != health_status::unhealthy) return true;
        core.counts_.failed_health_checks.fetch_add(1, std::memory_order_relaxed);
        core.notify(
            [&](pool_listener& listener) { listener.on_health_check_failed(s.info, check_point::periodic); });
        return false;
    }
};

} // namespace sqlpool::detail
