// pool_controls: what an operator does to a running pool — suspend() and resume() new acquires,
// soft_evict() every connection, resize() it, close() it within a bound — and its stats(), as a
// mixin of the core.
module;
#include "detail/gmf.hpp"
export module sqlpool:pool_controls;
import :errors;
import :config;
import :connection_info;
import :events;
import :stats;
import :pool_slots;
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

    [[nodiscard]] pool_stats stats() const {
        typename Core::lock_type lock(self().mutex_);
        return stats_locked();
    }
    // The same, for a caller that holds the pool's lock.
    [[nodiscard]] pool_stats stats_locked() const {
        const Core& core = self();
        pool_stats s;
        const slot_counts now = core.slots_.counts();
        s.total = now.total;
        s.idle = now.idle;
        s.in_use = now.in_use;
        s.waiting = core.waiters_.waiting();
        s.min_connections = core.min_connections();
        s.max_connections = core.slots_.limit();
        s.suspended = core.suspended_.load(std::memory_order_relaxed) ? 1 : 0;
        s.acquired = core.slots_.leases();
        core.counts_.report(s);
        core.report_source(s);
        return s;
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

    // From now on keeps `min` connections open and allows `max`: idle connections beyond the new
    // max close at once (returned: how many), leased ones when they come back (closed.resized);
    // waiters look again, and connections up to `min` open now. config_error when the sizes are
    // invalid (as in pool_config); pool_closed_error when the pool is closed.
    std::size_t resize(std::size_t min, std::size_t max) {
        check_sizes(min, max);
        Core& core = self();
        typename Core::lock_type lock(core.mutex_);
        if (core.closed_.load(std::memory_order_relaxed)) core.throw_closed();
        core.slots_.set_limit(max);
        core.min_connections_.store(min, std::memory_order_relaxed);
        const std::vector<std::size_t> beyond =
            core.take_idle_if([max](const auto& s) { return s.index >= max; });
        core.waiters_.nudge_all();
        lock.unlock();
        for (const std::size_t i : beyond) core.retire(i, retire_reason::resized);
        lock.lock();
        core.replenish(lock, core.clock_.now()); // returns with the lock held
        lock.unlock();
        core.notify([&](pool_listener& listener) { listener.on_resize(min, max, beyond.size()); });
        return beyond.size();
    }

    // Refuses new acquires, wakes every waiter, closes idle connections and waits up to
    // `timeout` for leased ones to come back. Then it interrupts the statements that leases still
    // out have been running for a while, waits up to interrupt_grace more, and reports what is
    // still out (see close_report).
    close_report close(std::chrono::nanoseconds timeout) {
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
        close_report report;
        if (!drain(lock, timeout)) {
            lock.unlock();
            report.interrupted = core.slots_.interrupt_all();
            lock.lock();
            if (report.interrupted != 0)
                drain(lock, std::min<std::chrono::nanoseconds>(timeout, interrupt_grace));
        }
        report.complete = core.slots_.counts().total == 0;
        lock.unlock();
        if (!report.complete) report.stragglers = core.connections();
        return report;
    }

private:
    // How long close() waits for the leases whose statements it interrupted (at most its timeout).
    static constexpr std::chrono::milliseconds interrupt_grace{100};

    static void check_sizes(std::size_t min, std::size_t max) {
        pool_config sizes;
        sizes.min_connections = min;
        sizes.max_connections = max;
        std::vector<std::string> problems;
        detail::check_sizes(sizes, problems);
        if (!problems.empty()) throw config_error(std::move(problems));
    }

    // Waits up to `timeout` for every slot to empty; true when it did.
    template <class Lock>
    bool drain(Lock& lock, std::chrono::nanoseconds timeout) {
        Core& core = self();
        if constexpr (Core::concurrent) {
            const auto deadline = deadline_after(std::chrono::steady_clock::now(), timeout);
            while (core.slots_.counts().total != 0)
                if (core.drained_.wait_until(lock, deadline) == std::cv_status::timeout) break;
        }
        return core.slots_.counts().total == 0;
    }

    friend Core;
    pool_controls() = default;

    Core& self() noexcept { return static_cast<Core&>(*this); }
    const Core& self() const noexcept { return static_cast<const Core&>(*this); }
};

} // namespace sqlpool::detail
