// pool_release: how connections go back — the reset on return and its verdict, making a slot idle
// or handing it to the longest waiter, waking a waiter, retiring a connection and freeing its
// slot — as a mixin of the core.
module;
#include "detail/gmf.hpp"
export module sqlpool:pool_release;
import :session;
import :connection_info;
import :events;
import :file_generation;
import :pool_slots;
import :pool_return;

namespace sqlpool::detail {

// Core derives from pool_release<Core, Slot> and befriends it; it names the members used here.
template <class Core, class Slot>
class pool_release {
    friend Core;
    pool_release() = default;

protected:
    // Resets a returned connection and decides whether it stays (`none`) or retires. Inlined by
    // force, as put_back(): clang left it out of line once it moved here, at 15 instructions a return.
    [[gnu::always_inline]] retire_reason judge_return(Slot& s) noexcept {
        Core& core = self();
        return_verdict verdict{.reason = retire_reason::broken};
        try {
            verdict = reset_on_return(s, Core::isolation_type::default_level, core.health_, core.recycling_,
                                      core.clock_, core.config_);
        } catch (...) {
            verdict.reason = retire_reason::broken;
        }
        if (verdict.reset) core.counts_.resets.fetch_add(1, std::memory_order_relaxed);
        if (verdict.reason == retire_reason::unhealthy) {
            core.counts_.failed_health_checks.fetch_add(1, std::memory_order_relaxed);
            core.notify([&](pool_listener& listener) {
                listener.on_health_check_failed(s.info, check_point::on_return);
            });
        }
        if (const int code = s.conn.broken_code(); code != 0) [[unlikely]] {
            if (decltype(s.conn)::classify(code) == error_action::reconnect_all) core.file_moved(s);
        }
        const retire_reason ended = s.generation->reason(); // the file moved, or soft_evict() ran
        if (ended != retire_reason::none) return ended;
        if (s.index >= core.slots_.limit()) [[unlikely]]
            return retire_reason::resized; // resize() lowered max_connections meanwhile
        return verdict.reason;
    }

    // Slot `e` goes idle, or under strict FIFO straight to the longest waiter.
    template <class Entry>
    [[gnu::always_inline]] void put_back(Entry& e) noexcept {
        Core& core = self();
        if constexpr (Core::strict_fifo) {
            if (core.waiters_.waiting() != 0 && hand_to_waiter(e.index)) return;
        }
        core.slots_.make_idle(e);
        if (core.waiters_.waiting() != 0 || core.closed_.load(std::memory_order_seq_cst)) [[unlikely]]
            after_idle(e.index);
    }

    // Closes the connection in slot `i`, which this thread holds, and frees the slot.
    void retire(std::size_t i, retire_reason reason) noexcept {
        retire_connection(std::move(self().slots_.at(i).held), reason);
        free_slot(i);
    }
    void retire_connection(std::unique_ptr<Slot> s, retire_reason reason) noexcept {
        Core& core = self();
        {
            typename Core::lock_type lock(core.mutex_);
            if (core.closed_.load(std::memory_order_relaxed)) reason = retire_reason::shutdown;
            core.counts_.closed.add(reason);
        }
        core.notify([&](pool_listener& listener) { listener.on_retire(s->info, reason); });
        s.reset(); // closes it, outside the lock
    }
    // Slot `i`'s capacity is free: a waiter may open a connection in it, or close() may finish.
    void free_slot(std::size_t i) noexcept {
        Core& core = self();
        (void)core.slots_.vacate(i);
        if (core.waiters_.waiting() == 0 && !core.closed_.load(std::memory_order_seq_cst)) return;
        typename Core::wake_later wake;
        typename Core::lock_type lock(core.mutex_);
        if (core.closed_.load(std::memory_order_relaxed))
            core.drained_.notify_all();
        else
            core.waiters_.signal(wake);
        lock.unlock();
        if (wake) wake->wakeup.notify_one();
    }

    // Under the lock: claims the idle slots `leave` selects (in table order) and makes the others
    // idle again, waking a waiter if one of those was wanted meanwhile.
    template <class Predicate>
    std::vector<std::size_t> take_idle_if(Predicate leave) {
        auto& slots = self().slots_;
        std::vector<std::size_t> taken;
        bool put_back_any = false;
        for (std::size_t i = 0; i < slots.capacity(); ++i) {
            if (!slots.try_claim(i)) continue;
            if (leave(std::as_const(*slots.at(i).held))) {
                taken.push_back(i);
            } else {
                slots.make_idle(i);
                put_back_any = true;
            }
        }
        if (put_back_any) signal_waiter();
        return taken;
    }
    // Under the lock: slots this thread holds go idle, or close when the pool closed meanwhile.
    template <class Lock>
    void settle(Lock& lock, const std::vector<std::size_t>& held) {
        Core& core = self();
        if (core.closed_.load(std::memory_order_relaxed)) {
            lock.unlock();
            for (const std::size_t i : held) retire(i, retire_reason::shutdown);
            lock.lock();
            return;
        }
        for (const std::size_t i : held) core.slots_.make_idle(i);
        if (!held.empty()) signal_waiter();
    }
    // Under the lock: wakes the longest waiter, if any.
    void signal_waiter() noexcept {
        typename Core::wake_later wake;
        self().waiters_.signal(wake);
        if (wake) wake->wakeup.notify_one(); // under the lock
    }

private:
    Core& self() noexcept { return static_cast<Core&>(*this); }

    bool hand_to_waiter(std::size_t i) noexcept {
        Core& core = self();
        typename Core::wake_later wake;
        {
            typename Core::lock_type lock(core.mutex_);
            if (core.closed_.load(std::memory_order_relaxed) ||
                core.suspended_.load(std::memory_order_relaxed) || !core.waiters_.hand_over(i, wake))
                return false;
        }
        wake->wakeup.notify_one();
        return true;
    }
    // Someone waits, or the pool closed, as slot `i` went idle: wake a waiter, or close it.
    void after_idle(std::size_t i) noexcept {
        Core& core = self();
        typename Core::lock_type lock(core.mutex_);
        if (core.closed_.load(std::memory_order_relaxed)) {
            const bool mine = core.slots_.try_claim(i); // else close() or a waiter has it
            lock.unlock();
            if (mine) retire(i, retire_reason::shutdown);
            return;
        }
        typename Core::wake_later wake;
        core.waiters_.signal(wake);
        lock.unlock();
        if (wake) wake->wakeup.notify_one();
    }
};

} // namespace sqlpool::detail
