// basic_pool_core: the shared state behind a basic_pool — acquire, return, maintenance and close,
// composed from the pool's slots (:pool_slots), the return path (:pool_return) and the policies.
module;
#include "detail/gmf.hpp"
export module sqlpool:pool_core;
import :errors;
import :sqlite;
import :config;
import :connection_info;
import :stats;
import :events;
import :lease;
import :pool_slots;
import :pool_return;
import :pool_open;
import :pool_maintenance;
import :locking;
import :queue;
import :health;
import :recycling;
import :isolation;
import :transaction;

namespace sqlpool::detail {

// A pool's counts behind pool_stats, under its lock (listener_errors also outside it).
struct pool_counters {
    std::uint64_t acquired = 0;
    std::uint64_t timeouts = 0;
    std::uint64_t created = 0;
    std::uint64_t open_failures = 0;
    std::uint64_t resets = 0;
    std::uint64_t failed_health_checks = 0;
    std::atomic<std::uint64_t> listener_errors{0};
    retired_counts closed;
    wait_histogram waits;
};

} // namespace sqlpool::detail

namespace sqlpool {

// The pool's shared state. Heap-allocated and owned by basic_pool until the pool is destroyed;
// if leases are still out then, the last one to come back deletes it.
template <class Locking, class Health, class Recycling, class Isolation, class Queue, class Clock>
class basic_pool_core final
    : public detail::lease_owner,
      public detail::pool_open<basic_pool_core<Locking, Health, Recycling, Isolation, Queue, Clock>>,
      public detail::pool_maintenance<basic_pool_core<Locking, Health, Recycling, Isolation, Queue, Clock>> {
    friend class detail::pool_open<basic_pool_core>;
    friend class detail::pool_maintenance<basic_pool_core>;
    using health_type = Health;
    using isolation_type = Isolation;
    using mutex_type = typename Locking::mutex_type;
    using condition_type = typename Locking::condition_type;
    using lock_type = std::unique_lock<mutex_type>;
    using slot_ptr = detail::slot_ptr;
    using slots_type = detail::pool_slots<condition_type, Queue>;
    using waiter_type = typename slots_type::waiter_type;
    using steady = std::chrono::steady_clock;
    static constexpr bool concurrent = locking_traits<Locking>::concurrent;

    // What acquire() has got so far.
    struct claim {
        slot_ptr chosen;       // an idle connection, or one handed over
        bool open_new = false; // or reserved capacity to open one
        bool retrying = false; // woken to take an idle connection that someone else took first
        bool waited = false;
        steady::time_point started{};
    };

public:
    basic_pool_core(pool_config config, Health health, Recycling recycling, Clock clock)
        : config_(std::move(config)), health_(std::move(health)), recycling_(std::move(recycling)),
          clock_(std::move(clock)) {
        config_.check();
        this->prepare(config_);
    }

    // A lease, or (when !throw_on_timeout) an empty one after `timeout`. Returning the lease
    // itself rather than an optional saves a move and a destructor on every acquire.
    lease acquire(std::chrono::nanoseconds timeout, bool throw_on_timeout) {
        lock_type lock(mutex_);
        claim got;
        while (true) {
            if (slots_.closed()) throw_closed();
            if (slots_.can_take_idle()) {
                got.chosen = slots_.take_idle();
                if (got.retrying) slots_.wake_for_idle(); // more came back while this one was on its way
                break;
            }
            if (slots_.reserve(config_.max_connections)) {
                got.open_new = true;
                break;
            }
            if constexpr (!concurrent) {
                ++counts_.timeouts;
                return timed_out(lock, {}, throw_on_timeout, " (single_thread locking never waits)");
            } else {
                if (!wait_for_turn(lock, got, timeout)) {
                    ++counts_.timeouts;
                    return timed_out(lock, steady::now() - got.started, throw_on_timeout, "");
                }
                if (got.chosen || got.open_new) break;
            }
        }
        return check_out(lock, std::move(got));
    }

    void give_back(slot_ptr leased) noexcept override {
        // The hot-path events capture what they report, not the locals: a local captured by
        // reference would have to live in memory even when no listener is set.
        notify([&info = leased->info](pool_listener& listener) { listener.on_release(info); });
        detail::return_verdict verdict{.reason = retire_reason::broken};
        try {
            verdict = detail::reset_on_return(*leased, Isolation::default_level, health_, recycling_, clock_,
                                              config_);
        } catch (...) {
            verdict.reason = retire_reason::broken;
        }
        if (verdict.reason == retire_reason::unhealthy)
            notify([&](pool_listener& listener) {
                listener.on_health_check_failed(leased->info, check_point::on_return);
            });
        lock_type lock(mutex_);
        if (verdict.reset) ++counts_.resets;
        if (verdict.reason == retire_reason::unhealthy) ++counts_.failed_health_checks;
        const retire_reason reason = this->file_verdict(lock, *leased, verdict.reason);
        typename slots_type::wake_later wake; // woken once the pool is unlocked
        if (reason == retire_reason::none && !slots_.closed())
            slots_.put_back(std::move(leased), &wake);
        else
            retire_returned(lock, std::move(leased), reason);
        finish_if_orphaned(lock); // may unlock and delete the pool: `wake` does not depend on it
        if (lock.owns_lock()) lock.unlock();
        if (wake) wake->wakeup.notify_one();
    }

    // Refuses new acquires, wakes every waiter, closes idle connections and waits up to
    // `timeout` for leased ones to come back. True when every connection is closed.
    bool close(std::chrono::nanoseconds timeout) {
        lock_type lock(mutex_);
        const bool first_close = !slots_.closed();
        std::vector<slot_ptr> closing = slots_.close();
        counts_.closed.add(retire_reason::shutdown, closing.size());
        lock.unlock();
        if (first_close) notify([](pool_listener& listener) { listener.on_close(); });
        for (auto& s : closing) retire_event(s->info, retire_reason::shutdown);
        closing.clear();
        this->release_keeper();
        lock.lock();
        if constexpr (concurrent) slots_.drain(lock, detail::deadline_after(steady::now(), timeout));
        return slots_.total() == 0;
    }

    // Called by the pool's destructor: deletes this now, or lets the last returning lease do it.
    void orphan() noexcept {
        lock_type lock(mutex_);
        orphaned_ = true;
        finish_if_orphaned(lock);
    }

    [[nodiscard]] pool_stats stats() const {
        lock_type lock(mutex_);
        return stats_locked();
    }

    [[nodiscard]] bool closed() const {
        lock_type lock(mutex_);
        return slots_.closed();
    }

    const pool_config& config() const noexcept { return config_; }
    detail::listener_sink listener_sink() noexcept {
        return {config_.listener.get(), &counts_.listener_errors};
    }
    Health& health() noexcept { return health_; }
    Recycling& recycling() noexcept { return recycling_; }
    Clock& clock() noexcept { return clock_; }

private:
    [[noreturn]] void throw_closed() const {
        throw pool_closed_error("pool for '" + config_.database + "' is closed");
    }

    // Queues this thread and sleeps until it is handed a connection, the right to open one, or a
    // turn at an idle one (true; with neither of the first two, acquire() tries again), or until
    // the timeout (false).
    bool wait_for_turn(lock_type& lock, claim& got, std::chrono::nanoseconds timeout) {
        if (!got.waited) {
            got.started = steady::now();
            got.waited = true;
        }
        const auto owner = std::make_shared<waiter_type>();
        waiter_type& self = *owner;
        if (got.retrying)
            slots_.enqueue_front(self); // keeps its place in line
        else
            slots_.enqueue(self);
        const auto deadline = detail::deadline_after(got.started, timeout);
        while (!self.done)
            if (self.wakeup.wait_until(lock, deadline) == std::cv_status::timeout && !self.done) break;
        if (!self.done) {
            slots_.dequeue(self);
            return false;
        }
        if (self.closed) throw_closed();
        if (self.handed) {
            got.chosen = std::move(self.handed);
        } else if (self.may_open) {
            got.open_new = true;
        } else {
            slots_.woken_returned();
            got.retrying = true;
        }
        return true;
    }

    // Hands out what acquire() claimed: opens it, or checks it and replaces it when unhealthy.
    lease check_out(lock_type& lock, claim got) {
        if (!got.open_new) ++counts_.acquired; // a new connection counts once it opened
        const auto wait = got.waited ? steady::now() - got.started : std::chrono::nanoseconds::zero();
        counts_.waits.record(wait);
        lock.unlock();
        if (got.open_new) return hand_out(this->open_reserved(true), wait);
        if (detail::checkout_healthy(health_, clock_, *got.chosen))
            return hand_out(std::move(got.chosen), wait);
        retire_unhealthy(std::move(got.chosen)); // its capacity stays reserved for the replacement
        return hand_out(this->open_reserved(true), wait);
    }

    void retire_unhealthy(slot_ptr chosen) {
        notify([&](pool_listener& listener) {
            listener.on_health_check_failed(chosen->info, check_point::on_checkout);
        });
        retire_event(chosen->info, retire_reason::unhealthy);
        chosen.reset();
        lock_type lock(mutex_);
        counts_.closed.add(retire_reason::unhealthy);
        ++counts_.failed_health_checks;
        --counts_.acquired; // counted again when the replacement opens
    }

    // Closes a returned connection outside the lock and frees its capacity.
    void retire_returned(lock_type& lock, slot_ptr s, retire_reason reason) {
        if (slots_.closed()) reason = retire_reason::shutdown;
        counts_.closed.add(reason);
        lock.unlock();
        retire_event(s->info, reason);
        s.reset();
        lock.lock();
        slots_.free_capacity();
    }

    template <class Event>
    void notify(const Event& event) noexcept {
        detail::notify(config_.listener.get(), counts_.listener_errors, event);
    }
    void retire_event(const connection_info& info, retire_reason reason) noexcept {
        notify([&](pool_listener& listener) { listener.on_retire(info, reason); });
    }
    // Inlined by force: out of line, the call alone cost more than the listener check inside it.
    [[gnu::always_inline]] lease hand_out(slot_ptr s, std::chrono::nanoseconds wait) noexcept {
        notify([&info = s->info, wait](pool_listener& listener) { listener.on_acquire(info, wait); });
        return detail::make_lease(this, std::move(s));
    }

    // Closes reserved connections outside the lock and frees their capacity.
    void close_slots(lock_type& lock, std::vector<slot_ptr> slots, retire_reason reason) {
        counts_.closed.add(reason, slots.size());
        const std::size_t count = slots.size();
        lock.unlock();
        for (auto& s : slots) retire_event(s->info, reason);
        slots.clear();
        lock.lock();
        for (std::size_t i = 0; i < count; ++i) slots_.free_capacity();
    }

    void finish_if_orphaned(lock_type& lock) noexcept {
        if (!orphaned_ || slots_.in_use() != 0) return;
        lock.unlock();
        delete this;
    }

    lease timed_out(lock_type& lock, std::chrono::nanoseconds waited, bool throw_on_timeout,
                    std::string_view detail_text) {
        const pool_stats snapshot = stats_locked();
        lock.unlock();
        notify([&](pool_listener& listener) { listener.on_timeout(waited); });
        if (!throw_on_timeout) return {};
        const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(waited).count();
        throw timeout_error("no connection to '" + config_.database + "' within " + std::to_string(ms) +
                                "ms: " + std::to_string(snapshot.in_use) + " in use, " +
                                std::to_string(snapshot.idle) + " idle, " + std::to_string(snapshot.waiting) +
                                " waiting, max_connections " + std::to_string(config_.max_connections) +
                                std::string(detail_text),
                            waited, snapshot);
    }

    pool_stats stats_locked() const {
        pool_stats s;
        s.total = slots_.total();
        s.idle = slots_.idle();
        s.in_use = slots_.in_use();
        s.waiting = slots_.waiting();
        s.max_connections = config_.max_connections;
        s.acquired = counts_.acquired;
        s.timeouts = counts_.timeouts;
        s.created = counts_.created;
        s.open_failures = counts_.open_failures;
        s.closed = counts_.closed;
        s.resets = counts_.resets;
        s.failed_health_checks = counts_.failed_health_checks;
        s.listener_errors = counts_.listener_errors.load(std::memory_order_relaxed);
        s.wait_p50 = counts_.waits.quantile(0.50);
        s.wait_p99 = counts_.waits.quantile(0.99);
        s.wait_max = counts_.waits.max();
        return s;
    }

    pool_config config_;
    [[no_unique_address]] Health health_;
    [[no_unique_address]] Recycling recycling_;
    [[no_unique_address]] Clock clock_;
    mutable mutex_type mutex_;
    slots_type slots_; // under mutex_
    detail::pool_counters counts_;
    bool orphaned_ = false;
};

} // namespace sqlpool
