// pool_maintenance: one round of a pool's upkeep — retire what the recycling policy retires, run
// the periodic health checks that are due, grow back to min_connections — as a mixin of the core.
module;
#include "detail/gmf.hpp"
export module sqlpool:pool_maintenance;
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
    // the periodic health checks that are due, and opens connections up to min_connections.
    void maintain(std::chrono::steady_clock::time_point now) {
        Core& core = self();
        typename Core::lock_type lock(core.mutex_);
        if (core.closed_.load(std::memory_order_relaxed)) return;
        auto [retiring, checking] = sort_idle(now);
        lock.unlock();
        for (const auto& [i, reason] : retiring) core.retire(i, reason);
        std::vector<std::size_t> healthy = check_periodic(checking, now);
        lock.lock();
        core.settle(lock, std::move(healthy)); // closes them when close() ran meanwhile
        core.replenish(lock, now);
    }

private:
    friend Core;
    pool_maintenance() = default;

    Core& self() noexcept { return static_cast<Core&>(*this); }

    struct idle_sort {
        std::vector<std::pair<std::size_t, retire_reason>> retiring;
        std::vector<std::size_t> checking; // due for a periodic health check
    };

    // Takes out of the idle set (under the lock) what retires now and what is due for a check.
    idle_sort sort_idle(std::chrono::steady_clock::time_point now) {
        Core& core = self();
        const pool_config& config = core.config_;
        std::size_t staying = core.slots_.counts().total;
        idle_sort out;
        std::vector<retire_reason> reasons; // in the order take_idle_if takes them
        const std::vector<std::size_t> taken = core.take_idle_if([&](const auto& s) {
            const retire_reason reason = core.recycling_.retire(
                s.info, {.now = now, .config = config, .may_shrink = staying > config.min_connections});
            const bool check_due = includes(Core::health_type::when, check_point::periodic) &&
                                   now - s.info.last_checked_at >= config.health_check_interval;
            if (reason == retire_reason::none && !check_due) return false;
            if (reason != retire_reason::none) --staying;
            reasons.push_back(reason);
            return true;
        });
        for (std::size_t k = 0; k < taken.size(); ++k) {
            if (reasons[k] != retire_reason::none)
                out.retiring.emplace_back(taken[k], reasons[k]);
            else
                out.checking.push_back(taken[k]);
        }
        return out;
    }

    // Runs the periodic checks outside the lock and retires the slots that fail; returns the rest.
    std::vector<std::size_t> check_periodic(const std::vector<std::size_t>& checking,
                                            std::chrono::steady_clock::time_point now) {
        Core& core = self();
        std::vector<std::size_t> healthy;
        for (const std::size_t i : checking) {
            auto& s = *core.slots_.at(i).held;
            s.info.last_checked_at = now;
            if (run_check(core.health_, s, check_point::periodic) != health_status::unhealthy) {
                healthy.push_back(i);
                continue;
            }
            core.counts_.failed_health_checks.fetch_add(1, std::memory_order_relaxed);
            core.notify([&](pool_listener& listener) {
                listener.on_health_check_failed(s.info, check_point::periodic);
            });
            core.retire(i, retire_reason::unhealthy);
        }
        return healthy;
    }
};

} // namespace sqlpool::detail
