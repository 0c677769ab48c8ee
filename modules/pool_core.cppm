// basic_pool_core: the shared state behind a basic_pool — acquire, return, close and stats of
// the sessions a session source opens (:session), composed from the slot table (:pool_slots), the waiters
// and the refusals they meet (:pool_waiters), the reset on return
// (:pool_return), the way back (:pool_release), opening (:pool_open), maintenance
// (:pool_maintenance), the operator controls (:pool_controls) and the policies.
module;
#include "detail/gmf.hpp"
export module sqlpool:pool_core;
import :errors;
import :deadline;
import :session;
import :config;
import :connection_info;
import :stats;
import :stat_counters;
import :events;
import :lease;
import :file_generation;
import :pool_slots;
import :pool_waiters;
import :pool_return;
import :pool_release;
import :pool_open;
import :pool_maintenance;
import :pool_controls;
import :fork_guard;
import :locking;
import :queue;
import :health;
import :recycling;
import :isolation;

namespace sqlpool {

// The pool's shared state, owned by its basic_pool and by every lease it handed out: a lease that
// outlives its pool keeps what it needs alive, and its session closes when it comes back. Source
// is where sessions come from (sqlite_source for sqlpool::connection); nothing else here knows
// the database.
template <class Locking, class Health, class Recycling, class Isolation, class Queue, class Clock,
          session_source<pool_config> Source>
class basic_pool_core final
    : public detail::lease_owner<typename Source::session_type>,
      public detail::pool_release<
          basic_pool_core<Locking, Health, Recycling, Isolation, Queue, Clock, Source>,
          detail::basic_slot<typename Source::session_type>>,
      public detail::pool_open<basic_pool_core<Locking, Health, Recycling, Isolation, Queue, Clock, Source>,
                               Source>,
      public detail::pool_maintenance<
          basic_pool_core<Locking, Health, Recycling, Isolation, Queue, Clock, Source>>,
      public detail::pool_controls<
          basic_pool_core<Locking, Health, Recycling, Isolation, Queue, Clock, Source>>,
      public detail::pool_refusals<
          basic_pool_core<Locking, Health, Recycling, Isolation, Queue, Clock, Source>> {
    using session_type = typename Source::session_type;
    using slot = detail::basic_slot<session_type>;
    using slot_ptr = std::unique_ptr<slot>;
    using lease = basic_lease<session_type>;
    using release_base = detail::pool_release<basic_pool_core, slot>;
    using open_base = detail::pool_open<basic_pool_core, Source>;
    friend release_base;
    friend open_base;
    friend class detail::pool_maintenance<basic_pool_core>;
    friend class detail::pool_controls<basic_pool_core>;
    friend class detail::pool_refusals<basic_pool_core>;
    using health_type = Health;
    using isolation_type = Isolation;
    using mutex_type = typename Locking::mutex_type;
    using condition_type = typename Locking::condition_type;
    using lock_type = std::unique_lock<mutex_type>;
    using slots_type = detail::pool_slots<Queue, slot>;
    using entry = typename slots_type::entry;
    using waiters_type = detail::waiter_queue<condition_type>;
    using waiter_type = typename waiters_type::waiter_type;
    using wake_later = typename waiters_type::wake_later;
    using steady = std::chrono::steady_clock;
    static constexpr bool concurrent = locking_traits<Locking>::concurrent;
    // Strict hand-off: a returned connection goes to the longest waiter, and nobody takes a
    // connection past a queued thread.
    static constexpr bool strict_fifo = Queue::handoff == handoff_mode::direct;
    static constexpr std::size_t none = slots_type::none;

public:
    using self_ptr = std::shared_ptr<basic_pool_core>;

    basic_pool_core(pool_config config, Health health, Recycling recycling, Clock clock)
        : open_base(config.checked()), config_(std::move(config)), health_(std::move(health)),
          recycling_(std::move(recycling)), clock_(std::move(clock)),
          slots_(config_.max_connections, pool_config::max_pool_size) {}

    // A lease, or (when !throw_on_timeout) an empty one after `timeout`. The fast path claims an
    // idle slot without the lock; the rest queues.
    lease acquire(const self_ptr& self, std::chrono::nanoseconds timeout, bool throw_on_timeout,
                  std::source_location where = std::source_location::current()) {
        if (closed_.load(std::memory_order_acquire)) [[unlikely]]
            this->throw_closed();
        if ((!strict_fifo || waiters_.waiting() == 0) && !suspended_.load(std::memory_order_relaxed)) {
            if (entry* const e = slots_.claim_idle()) [[likely]]
                return check_out(self, *e, {}, where);
        }
        const auto started = concurrent ? steady::now() : steady::time_point{}; // single_thread never waits
        return acquire_queued(self, started, deadline(detail::deadline_after(started, timeout)),
                              throw_on_timeout, where);
    }

    // The same, waiting until `limit` passes (a stop request ends the wait with cancelled_error).
    lease acquire(const self_ptr& self, const deadline& limit, bool throw_on_timeout,
                  std::source_location where = std::source_location::current()) {
        if (closed_.load(std::memory_order_acquire)) [[unlikely]]
            this->throw_closed();
        if (limit.stop_requested()) this->throw_cancelled();
        if ((!strict_fifo || waiters_.waiting() == 0) && !suspended_.load(std::memory_order_relaxed)) {
            if (entry* const e = slots_.claim_idle()) [[likely]]
                return check_out(self, *e, {}, where);
        }
        return acquire_queued(self, steady::now(), limit, throw_on_timeout, where);
    }

    void give_back(slot* leased) noexcept override {
        if (detail::forked_since(born_)) [[unlikely]]
            return; // a lease taken before fork() came back in the child: leave its session alone
        // The hot-path events capture what they report, not the locals: a local captured by
        // reference would have to live in memory even when no listener is set.
        notify([&info = leased->info](pool_listener& listener) { listener.on_release(info); });
        entry& e = slots_.at(leased->index);
        e.clear_holder();
        const retire_reason reason = this->judge_return(*leased);
        if (reason == retire_reason::none) [[likely]] {
            e.publish_use(leased->info);
            this->put_back(e);
        } else
            this->retire(leased->index, reason);
    }

    [[nodiscard]] bool closed() const noexcept { return closed_.load(std::memory_order_acquire); }
    // The sizes in force: the configuration's, or the last resize()'s.
    [[nodiscard]] std::size_t min_connections() const noexcept {
        return min_connections_.load(std::memory_order_relaxed);
    }
    [[nodiscard]] std::size_t max_connections() const noexcept { return slots_.limit(); }

    // Every connection, idle or leased, with its metadata, holder and running statement.
    [[nodiscard]] std::vector<connection_snapshot> connections() { return slots_.snapshot(clock_.now()); }
    [[nodiscard]] std::vector<lease_holder> holders() { return slots_.holders(clock_.now()); }

    const pool_config& config() const noexcept { return config_; }
    detail::listener_sink listener_sink() noexcept {
        return {config_.listener.get(), &counts_.listener_errors};
    }
    Health& health() noexcept { return health_; }
    Recycling& recycling() noexcept { return recycling_; }
    Clock& clock() noexcept { return clock_; }

private:
    // Queues this thread until it takes an idle slot, reserves capacity to open one, is handed a
    // connection, or `limit` passes.
    lease acquire_queued(const self_ptr& self, steady::time_point started, const deadline& limit,
                         bool throw_on_timeout, std::source_location where) {
        const auto elapsed = [&] {
            return concurrent ? std::chrono::duration_cast<std::chrono::nanoseconds>(steady::now() - started)
                              : std::chrono::nanoseconds::zero();
        };
        const auto me = std::make_shared<waiter_type>();
        detail::stop_wake<mutex_type, waiter_type> on_stop; // armed before the lock, gone after it
        detail::arm_stop_wake<concurrent>(on_stop, limit, mutex_, *me);
        lock_type lock(mutex_);
        if (closed_.load(std::memory_order_relaxed)) this->throw_closed();
        waiters_.enqueue(*me);
        bool queued = true; // false once woken: whoever woke it took it out of the queue
        bool open_new = false;
        bool looked_for_self = false;
        std::size_t got = none;
        while (got == none) {
            if (me->handed != detail::no_slot) { // even when the pool closed since: the lease is out
                got = me->handed;
                break;
            }
            if (closed_.load(std::memory_order_relaxed)) {
                if (queued && !me->closed && !me->signalled) waiters_.dequeue(*me); // else already out
                this->throw_closed();
            }
            queued = queued && !std::exchange(me->signalled, false);
            got = suspended_.load(std::memory_order_relaxed) ? none : try_take(*me, queued, open_new);
            if (got != none) break;
            if (limit.stop_requested()) {
                if (queued) waiters_.dequeue(*me);
                lock.unlock();
                this->throw_cancelled();
            }
            if (!looked_for_self && throw_on_timeout) { // try_acquire() answers std::nullopt instead
                looked_for_self = true;
                this->refuse_nested(lock, *me, queued, where);
            }
            if (!queued) { // woken, found nothing: back at the head, and look once more
                waiters_.enqueue_front(*me);
                queued = true;
            } else if (!sleep(lock, *me, limit.at())) {
                waiters_.dequeue(*me);
                ++counts_.timeouts;
                return this->timed_out(lock, elapsed(), throw_on_timeout);
            }
        }
        const std::chrono::nanoseconds wait = elapsed();
        counts_.waits.record(wait);
        lock.unlock();
        return open_new ? open_into(self, got, wait, where) : check_out(self, slots_.at(got), wait, where);
    }

    // An idle slot or a reserved one (`open_new`) for waiter `me` when its turn has come (under
    // strict FIFO: at the head of the queue, or just woken from there). It leaves the queue, and
    // the next waiter is woken when more is free.
    std::size_t try_take(waiter_type& me, bool queued, bool& open_new) {
        if (strict_fifo && queued && waiters_.head() != &me) return none;
        const entry* const idle = slots_.claim_idle();
        std::size_t got = idle != nullptr ? idle->index : none;
        if (got == none) {
            got = slots_.reserve();
            open_new = got != none;
        }
        if (got == none) return none;
        if (queued) waiters_.dequeue(me);
        if (slots_.any_available()) this->signal_waiter();
        return got;
    }

    // Sleeps until woken or `deadline`; false on a timeout.
    bool sleep(lock_type& lock, waiter_type& me, steady::time_point deadline) {
        if constexpr (!concurrent) {
            return false; // single_thread locking never waits
        } else {
            const bool timeout = me.wakeup.wait_until(lock, deadline) == std::cv_status::timeout;
            return !timeout || me.signalled || me.handed != detail::no_slot || me.closed;
        }
    }

    // Hands out a claimed slot's connection, or replaces it first when its check fails. Inlined by
    // force into each acquire: the call frame cost more than a fifth of an acquire + release.
    [[gnu::always_inline]] lease check_out(const self_ptr& self, entry& e, std::chrono::nanoseconds wait,
                                           std::source_location where) {
        slot& s = *e.held;
        const auto now = clock_.now(); // read once: for the health check and the holder record
        if (detail::checkout_healthy(health_, now, s)) [[likely]]
            return hand_out(self, e, s, wait, where, now);
        return replace_unhealthy(self, e, wait, where);
    }
    [[gnu::noinline]] lease replace_unhealthy(const self_ptr& self, entry& e, std::chrono::nanoseconds wait,
                                              std::source_location where) {
        counts_.failed_health_checks.fetch_add(1, std::memory_order_relaxed);
        notify([&](pool_listener& listener) {
            listener.on_health_check_failed(e.held->info, check_point::on_checkout);
        });
        this->retire_connection(std::move(e.held), retire_reason::unhealthy); // the slot stays held
        return open_into(self, e.index, wait, where);
    }

    // Opens a connection into slot `i`, which this thread holds, and hands it out.
    lease open_into(const self_ptr& self, std::size_t i, std::chrono::nanoseconds wait,
                    std::source_location where) {
        slot& s = slots_.install(i, this->open_reserved(i));
        return hand_out(self, slots_.at(i), s, wait, where, clock_.now());
    }

    // Inlined by force: out of line, the call alone cost more than the listener check inside it.
    [[gnu::always_inline]] lease hand_out(const self_ptr& self, entry& e, slot& s,
                                          std::chrono::nanoseconds wait, std::source_location where,
                                          steady::time_point now) noexcept {
        e.count_lease();
        e.record_holder(where, now);
        notify([&info = s.info, wait](pool_listener& listener) { listener.on_acquire(info, wait); });
        return detail::make_lease<session_type>(self, &s);
    }

    template <class Event>
    void notify(const Event& event) noexcept {
        detail::notify(config_.listener.get(), counts_.listener_errors, event);
    }

    pool_config config_;
    [[no_unique_address]] Health health_;
    [[no_unique_address]] Recycling recycling_;
    [[no_unique_address]] Clock clock_;
    slots_type slots_;
    mutable mutex_type mutex_;
    waiters_type waiters_;               // under mutex_ (but waiting())
    condition_type drained_;             // signalled when the pool closed and a slot came free
    std::atomic<bool> closed_{false};    // set under mutex_
    std::atomic<bool> suspended_{false}; // set under mutex_
    std::atomic<std::size_t> min_connections_{config_.min_connections}; // set under mutex_ (resize())
    std::uint64_t born_ = detail::fork_generation_now();
    detail::pool_counters counts_;
};

} // namespace sqlpool
