// pool_waiters: the threads blocked in acquire(), in arrival order, and the ways an acquire is
// refused. Every member of the queue runs under the pool's lock except waiting(), which a
// returning thread reads without it to learn whether anyone needs waking.
module;
#include "detail/gmf.hpp"
export module sqlpool:pool_waiters;
import :errors;
import :deadline;
import :stats;
import :events;

namespace sqlpool::detail {

// start + timeout, saturating instead of overflowing for very long timeouts (duration::max()).
template <class Rep, class Period>
std::chrono::steady_clock::time_point deadline_after(std::chrono::steady_clock::time_point start,
                                                     std::chrono::duration<Rep, Period> timeout) {
    using steady = std::chrono::steady_clock;
    if (timeout <= timeout.zero()) return start;
    const std::chrono::duration<double> room = steady::time_point::max() - start;
    if (std::chrono::duration<double>(timeout) >= room) return steady::time_point::max();
    return start + std::chrono::duration_cast<steady::duration>(timeout);
}

// Wakes a waiter when a deadline's stop_token is asked to stop (see arm_stop_wake()).
template <class Mutex, class Waiter>
struct stop_waker {
    Mutex* mutex;
    Waiter* waiter;
    void operator()() const {
        const std::lock_guard lock(*mutex);
        waiter->wakeup.notify_all();
    }
};
template <class Mutex, class Waiter>
using stop_wake = std::optional<std::stop_callback<stop_waker<Mutex, Waiter>>>;

// Arms `wake` to wake `w` when `limit`'s stop_token is asked to stop. Arm it before locking
// `mutex` (the callback may run at once, and locks it) and let it go after unlocking it.
template <bool Concurrent, class Mutex, class Waiter>
void arm_stop_wake(stop_wake<Mutex, Waiter>& wake, const deadline& limit, Mutex& mutex, Waiter& w) {
    if (Concurrent && limit.stop_token().stop_possible())
        wake.emplace(limit.stop_token(), stop_waker<Mutex, Waiter>{&mutex, &w});
}

// What a timeout_error says: the pool's state and the longest holder, if any.
inline std::string timeout_text(const std::string& database, std::chrono::nanoseconds waited,
                                const pool_stats& snapshot, const std::vector<lease_holder>& holders) {
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(waited).count();
    return "no connection to '" + database + "' within " + std::to_string(ms) +
           "ms: " + std::to_string(snapshot.in_use) + " in use, " + std::to_string(snapshot.idle) +
           " idle, " + std::to_string(snapshot.waiting) + " waiting, max_connections " +
           std::to_string(snapshot.max_connections) +
           (snapshot.suspended != 0 ? " (the pool is suspended: resume() it)" : "") +
           (holders.empty() ? "" : "; longest holder: " + describe(holders.front()));
}

// What a nested_acquire_error says.
inline std::string nested_text(const std::string& database, std::size_t max_connections,
                               std::source_location held, std::source_location asked) {
    const auto at = [](std::source_location where) {
        return std::string(where.file_name()) + ":" + std::to_string(where.line()) + " (" +
               where.function_name() + ")";
    };
    return "nested acquire: this thread holds a lease of the pool for '" + database + "' (acquired at " +
           at(held) + ") and asked for another at " + at(asked) + ", while all " +
           std::to_string(max_connections) +
           " leases are held by threads waiting for one more: none would ever come back. Pass the lease "
           "down, "
           "release it first, or set detect_nested_acquire = false";
}

inline constexpr std::size_t no_slot = static_cast<std::size_t>(-1);

// A thread blocked in acquire(). It is queued while it sleeps; whoever wakes it takes it out of
// the queue first, so that waiting() counts the sleepers only (one release wakes one of them).
// Shared, so that a waking thread can
// notify it after unlocking the pool (the woken thread then finds the mutex free instead of
// blocking on it at once) without the waiter and its condition variable going away meanwhile.
template <class Condition>
struct waiter : std::enable_shared_from_this<waiter<Condition>> {
    waiter* next = nullptr;
    waiter* prev = nullptr;
    Condition wakeup;
    std::size_t handed = no_slot; // a slot handed straight over (strict FIFO hand-off)
    bool signalled = false;       // woken to look again: a connection went idle or capacity came free
                                  // (if it finds nothing, it queues again at the head)
    bool closed = false;          // the pool closed
    std::thread::id thread = std::this_thread::get_id();
};

template <class Condition>
class waiter_queue {
public:
    using waiter_type = waiter<Condition>;
    using wake_later = std::shared_ptr<waiter_type>; // notified by the caller once the pool is unlocked

    // seq_cst: with the slot table's state stores, a Dekker pair (a returning thread stores
    // `idle`, then reads waiting(); a waiter counts itself, then looks for an idle slot), so
    // either the waiter finds the slot or the returning thread sees the waiter.
    [[nodiscard]] std::size_t waiting() const noexcept { return waiting_.load(std::memory_order_seq_cst); }
    [[nodiscard]] waiter_type* head() const noexcept { return head_; }

    void enqueue(waiter_type& w) noexcept {
        w.prev = tail_;
        (tail_ != nullptr ? tail_->next : head_) = &w;
        tail_ = &w;
        waiting_.fetch_add(1, std::memory_order_seq_cst);
    }
    // A woken waiter that found nothing keeps its place in line.
    void enqueue_front(waiter_type& w) noexcept {
        w.next = head_;
        (head_ != nullptr ? head_->prev : tail_) = &w;
        head_ = &w;
        waiting_.fetch_add(1, std::memory_order_seq_cst);
    }
    void dequeue(waiter_type& w) noexcept {
        (w.prev != nullptr ? w.prev->next : head_) = w.next;
        (w.next != nullptr ? w.next->prev : tail_) = w.prev;
        w.next = w.prev = nullptr;
        waiting_.fetch_sub(1, std::memory_order_seq_cst);
    }

    // Gives `s` to the first waiter, which leaves the queue. False when nobody waits.
    bool hand_over(std::size_t s, wake_later& wake) noexcept {
        waiter_type* w = head_;
        if (w == nullptr) return false;
        dequeue(*w);
        w->handed = s;
        wake = w->shared_from_this();
        return true;
    }

    // Takes the first waiter out of the queue to look for an idle connection or free capacity.
    void signal(wake_later& wake) noexcept {
        waiter_type* w = head_;
        if (w == nullptr) return;
        dequeue(*w);
        w->signalled = true;
        wake = w->shared_from_this();
    }

    // True when `thread` is among the waiters.
    [[nodiscard]] bool has_thread(std::thread::id thread) const noexcept {
        for (const waiter_type* w = head_; w != nullptr; w = w->next)
            if (w->thread == thread) return true;
        return false;
    }

    // Every waiter looks again, keeping its place in line (resume() after suspend()).
    void nudge_all() noexcept {
        for (waiter_type* w = head_; w != nullptr; w = w->next) w->wakeup.notify_one();
    }

    // Every waiter learns that the pool closed.
    void close_all() noexcept {
        while (waiter_type* w = head_) {
            dequeue(*w);
            w->closed = true;
            w->wakeup.notify_one();
        }
    }

private:
    waiter_type* head_ = nullptr;
    waiter_type* tail_ = nullptr;
    std::atomic<std::size_t> waiting_{0};
};

// The ways an acquire is refused, as a mixin of the core (Core derives from pool_refusals<Core>
// and befriends it): the pool is closed, the stop_token asked to stop, the wait timed out (with
// the holders), or a nested acquire would wait for itself.
template <class Core>
class pool_refusals {
protected:
    [[noreturn]] void throw_closed() const {
        throw pool_closed_error("pool for '" + self().config_.database + "' is closed");
    }
    [[noreturn]] void throw_cancelled() const {
        throw cancelled_error("acquire from the pool for '" + self().config_.database +
                              "' was cancelled (its stop_token was asked to stop)");
    }

    // An empty lease (try_acquire()) or timeout_error with the holders, after the stats under the lock.
    template <class Lock>
    auto timed_out(Lock& lock, std::chrono::nanoseconds waited, bool throw_on_timeout) {
        Core& core = self();
        const pool_stats snapshot = core.stats_locked();
        lock.unlock();
        core.notify([&](pool_listener& listener) { listener.on_timeout(waited); });
        if (!throw_on_timeout) return typename Core::lease{};
        std::vector<lease_holder> holders = core.slots_.holders(core.clock_.now());
        throw timeout_error(timeout_text(core.config_.database, waited, snapshot, holders) +
                                (Core::concurrent ? "" : " (single_thread locking never waits)"),
                            waited, snapshot, std::move(holders));
    }

    // Before this thread (queued) sleeps the first time: when it holds a lease of this pool and
    // every lease is held by a thread waiting here, nobody would ever return one.
    template <class Lock, class Waiter>
    void refuse_nested(Lock& lock, Waiter& me, bool queued, std::source_location where) {
        Core& core = self();
        if (!Core::concurrent || !core.config_.detect_nested_acquire ||
            core.suspended_.load(std::memory_order_relaxed))
            return; // single_thread locking never waits
        const std::optional<std::source_location> held = core.slots_.held_here();
        if (!held ||
            !core.slots_.all_held_by([&core](std::thread::id t) { return core.waiters_.has_thread(t); }))
            return;
        if (queued) core.waiters_.dequeue(me);
        lock.unlock();
        throw nested_acquire_error(nested_text(core.config_.database, core.max_connections(), *held, where),
                                   *held, where);
    }

private:
    friend Core;
    pool_refusals() = default;
    Core& self() noexcept { return static_cast<Core&>(*this); }
    const Core& self() const noexcept { return static_cast<const Core&>(*this); }
};

} // namespace sqlpool::detail
