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
        if (core.slots_.closed()) return;
        auto [retiring, checking] = sort_idle(now);
        lock.unlock();
        std::vector<slot_ptr> failed = check_periodic(checking, now);
        for (auto& [s, reason] : retiring) {
            core.retire_event(s->info, reason);
            s.reset();
        }
        for (auto& s : failed) {
            core.retire_event(s->info, retire_reason::unhealthy);
            s.reset();
        }
        lock.lock();
        for (const auto& entry : retiring) {
            core.counts_.closed.add(entry.second);
            core.slots_.free_capacity();
        }
        for (std::size_t i = 0; i < failed.size(); ++i) {
            core.counts_.closed.add(retire_reason::unhealthy);
            ++core.counts_.failed_health_checks;
            core.slots_.free_capacity();
        }
        settle_checked(lock, std::move(checking), now);
    }

protected:
    pool_maintenance() = default;

private:
    Core& self() noexcept { return static_cast<Core&>(*this); }

    struct idle_sort {
        std::vector<std::pair<slot_ptr, retire_reason>> retiring;
        std::vector<slot_ptr> checking; // due for a periodic health check
    };

    // Takes out of the idle set (under the lock) what retires now and what is due for a check.
    idle_sort sort_idle(std::chrono::steady_clock::time_point now) {
        Core& core = self();
        const pool_config& config = core.config_;
        std::size_t staying = core.slots_.total();
        std::vector<retire_reason> reasons; // in the order take_idle_if takes them
        std::vector<slot_ptr> taken = core.slots_.take_idle_if([&](const slot& s) {
            const retire_reason reason = core.recycling_.retire(
                s.info, {.now = now, .config = config, .may_shrink = staying > config.min_connections});
            const bool check_due = includes(Core::health_type::when, check_point::periodic) &&
                                   now - s.info.last_checked_at >= config.health_check_interval;
            if (reason == retire_reason::none && !check_due) return false;
            if (reason != retire_reason::none) --staying;
            reasons.push_back(reason);
            return true;
        });
        idle_sort out;
        for (std::size_t i = 0; i < taken.size(); ++i) {
            if (reasons[i] != retire_reason::none)
                out.retiring.emplace_back(std::move(taken[i]), reasons[i]);
            else
                out.checking.push_back(std::move(taken[i]));
        }
        return out;
    }

    // Runs the periodic checks outside the lock; moves the failed ones out of `checking`.
    std::vector<slot_ptr> check_periodic(std::vector<slot_ptr>& checking,
                                         std::chrono::steady_clock::time_point now) {
        Core& core = self();
        std::vector<slot_ptr> failed;
        for (auto& s : checking) {
            s->info.last_checked_at = now;
            if (run_check(core.health_, *s, check_point::periodic) == health_status::unhealthy) {
                core.notify([&](pool_listener& listener) {
                    listener.on_health_check_failed(s->info, check_point::periodic);
                });
                failed.push_back(std::move(s));
            }
        }
        return failed;
    }

    // The checked connections go back (or close, when close() ran meanwhile); then the pool grows
    // to min_connections.
    template <class Lock>
    void settle_checked(Lock& lock, std::vector<slot_ptr> checking,
                        std::chrono::steady_clock::time_point now) {
        Core& core = self();
        std::erase(checking, nullptr);
        if (core.slots_.closed()) {
            core.close_slots(lock, std::move(checking), retire_reason::shutdown);
            return;
        }
        for (auto& s : checking) core.slots_.put_back(std::move(s));
        core.replenish(lock, now);
    }
};

} // namespace sqlpool::detail
