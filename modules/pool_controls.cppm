// pool_controls: what an operator does to a running pool — suspend() and resume() new acquires,
// soft_evict() every connection, close() it within a bound — as a mixin of the core.
module;
#include "detail/gmf.hpp"
export module sqlpool:pool_controls;
import :connection_info;
import :events;
import :pool_waiters;

namespace sqlpool::detail {

// Core derives from pool_controls<Core> and befriends it; it names the members used here.
template <class Core>
class pool_controls {
public:
    // New acquires wait (up to their timeout) until resume(); leases already out stay valid and
    // maintenance goes on. False when the pool was suspended already or is closed.
    bool suspend() {
        Core& core = self();
        {
            typename Core::lock_type lock(core.mutex_);
            if (core.closed_.load(std::memory_order_relaxed) ||
                core.suspended_.exchange(true, std::memory_order_seq_cst))
                return false;
        }
        core.notify([](pool_listener& listener) { listener.on_suspend(); });
        return true;
    }

    // Acquires go on; the threads that waited meanwhile look again, in their order. False when
    // the pool was not suspended.
    bool resume() {
        Core& core = self();
        {
            typename Core::lock_type lock(core.mutex_);
            if (!core.suspended_.exchange(false, std::memory_order_seq_cst)) return false;
            core.waiters_.nudge_all();
        }
        core.notify([](pool_listener& listener) { listener.on_resume(); });
        return true;
    }

    [[nodiscard]] bool suspended() const noexcept {
        return self().suspended_.load(std::memory_order_acquire);
    }

    // Every connection open now retires: idle ones close at once, leased ones when they come back
    // (counted as closed.evicted), and the next acquires open new ones. After a migration, a key
    // rotation or a restored file. Returns how many closed at once.
    std::size_t soft_evict() {
        Core& core = self();
        typename Core::lock_type lock(core.mutex_);
        if (core.closed_.load(std::memory_order_relaxed)) return 0;
        const std::size_t closed_now = core.end_generation(lock, retire_reason::evicted);
        lock.unlock();
        core.notify([closed_now](pool_listener& listener) { listener.on_evict(closed_now); });
        return closed_now;
    }

    // Refuses new acquires, wakes every waiter, closes idle connections and waits up to
    // `timeout` for leased ones to come back. True when every connection is closed.
    bool close(std::chrono::nanoseconds timeout) {
        Core& core = self();
        typename Core::lock_type lock(core.mutex_);
        const bool first_close = !core.closed_.exchange(true, std::memory_order_seq_cst);
        core.waiters_.close_all();
        std::vector<std::size_t> idle = core.take_idle_if([](const auto&) { return true; });
        lock.unlock();
        if (first_close) core.notify([](pool_listener& listener) { listener.on_close(); });
        for (const std::size_t i : idle) core.retire(i, retire_reason::shutdown);
        core.release_source();
        lock.lock();
        if constexpr (Core::concurrent) {
            const auto deadline = deadline_after(std::chrono::steady_clock::now(), timeout);
            while (core.slots_.counts().total != 0)
                if (core.drained_.wait_until(lock, deadline) == std::cv_status::timeout) break;
        }
        return core.slots_.counts().total == 0;
    }

private:
    friend Core;
    pool_controls() = default;

    Core& self() noexcept { return static_cast<Core&>(*this); }
    const Core& self() const noexcept { return static_cast<const Core&>(*this); }
};

} // namespace sqlpool::detail
