// pool_slots: a pool's idle connections, its waiter queue and its capacity accounting. Every
// member runs under the pool's lock; none opens, closes or checks a connection.
module;
#include "detail/gmf.hpp"
export module sqlpool:pool_slots;
import :lease;
import :queue;

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

using slot_ptr = std::unique_ptr<slot>;

// A thread blocked in acquire(), linked into a FIFO queue. Shared, so that a releasing thread can
// wake it after unlocking the pool (the woken thread then finds the mutex free instead of blocking
// on it at once) without the waiter and its condition variable going away meanwhile.
template <class Condition>
struct waiter : std::enable_shared_from_this<waiter<Condition>> {
    waiter* next = nullptr;
    waiter* prev = nullptr;
    Condition wakeup;
    slot_ptr handed;       // a connection handed over by a releasing thread
    bool may_open = false; // or the right to open one (its capacity is reserved)
    bool closed = false;   // or the news that the pool closed
    bool done = false;     // with none of the above: a connection went idle, try again
};

// Idle connections in the Queue policy's order, the waiters in arrival order, and the counts:
// `total` connections exist or are reserved, `in_use` of them are not idle.
template <class Condition, class Queue>
class pool_slots {
public:
    using waiter_type = waiter<Condition>;
    using wake_later = std::shared_ptr<waiter_type>; // woken by the caller once the pool is unlocked

    // Strict handoff (every released connection goes to the longest waiter) or barging (it goes
    // back to the idle set and the longest waiter is woken; a running thread may take it first).
    static constexpr bool strict_fifo = Queue::handoff == handoff_mode::direct;

    [[nodiscard]] bool can_take_idle() const noexcept {
        return !idle_.empty() && (!strict_fifo || head_ == nullptr);
    }

    // An idle connection in the queue policy's reuse order (idle_ is short: max_connections).
    slot_ptr take_idle() noexcept {
        slot_ptr s;
        if constexpr (Queue::reuse == reuse_order::lifo) {
            s = std::move(idle_.back());
            idle_.pop_back();
        } else {
            s = std::move(idle_.front());
            idle_.erase(idle_.begin());
        }
        ++in_use_;
        return s;
    }

    // Capacity for one more connection, counted as in use, when below `max`.
    bool reserve(std::size_t max) noexcept {
        if (total_ >= max) return false;
        ++total_;
        ++in_use_;
        return true;
    }
    void reserve_many(std::size_t n) noexcept {
        total_ += n;
        in_use_ += n;
    }
    // A just-opened connection joins the idle set without having been reserved (warm-up).
    void add_opened(slot_ptr s) {
        ++total_;
        idle_.push_back(std::move(s));
    }

    void enqueue(waiter_type& w) noexcept {
        w.prev = tail_;
        (tail_ != nullptr ? tail_->next : head_) = &w;
        tail_ = &w;
        ++waiting_;
    }
    // A woken waiter that found nothing keeps its place in line.
    void enqueue_front(waiter_type& w) noexcept {
        w.next = head_;
        (head_ != nullptr ? head_->prev : tail_) = &w;
        head_ = &w;
        ++waiting_;
    }
    void dequeue(waiter_type& w) noexcept {
        (w.prev != nullptr ? w.prev->next : head_) = w.next;
        (w.next != nullptr ? w.next->prev : tail_) = w.prev;
        w.next = w.prev = nullptr;
        --waiting_;
    }
    // A woken waiter is back under the lock.
    void woken_returned() noexcept { --woken_; }

    // A healthy connection comes back. Strict FIFO: straight to the first waiter. Otherwise to the
    // idle set, waking the first waiter to take it: a thread already running may take it first,
    // which saves a context switch per release under contention (the woken waiter then queues
    // again at the head, so waiters still go in arrival order among themselves).
    void put_back(slot_ptr s, wake_later* defer = nullptr) noexcept {
        if constexpr (strict_fifo) {
            if (waiter_type* w = head_) {
                dequeue(*w);
                w->handed = std::move(s);
                w->done = true;
                wake(*w, defer);
                return;
            }
        }
        idle_.push_back(std::move(s));
        --in_use_;
        wake_for_idle(defer);
        if (closed_ && in_use_ == 0) drained_.notify_all();
    }

    // Wakes the first waiter to take an idle connection, unless as many woken waiters are already
    // on their way as there are idle connections: under contention a running thread usually
    // takes the connection first, and waking one waiter per release would mostly buy futile
    // context switches. The woken waiter wakes the next when it finds more than it needs.
    void wake_for_idle(wake_later* defer = nullptr) noexcept {
        waiter_type* w = head_;
        if (w == nullptr || woken_ >= idle_.size()) return;
        dequeue(*w);
        w->done = true;
        ++woken_;
        wake(*w, defer);
    }

    // A reserved connection's capacity is free again: the first waiter may open a connection with
    // it; otherwise the pool shrinks.
    void free_capacity() noexcept {
        if (waiter_type* w = head_; w != nullptr && !closed_) {
            dequeue(*w);
            w->may_open = true;
            w->done = true;
            w->wakeup.notify_one();
            return;
        }
        --total_;
        --in_use_;
        if (closed_ && in_use_ == 0) drained_.notify_all();
    }

    // Moves out the idle connections `leave` selects (counted as in use until their capacity is
    // freed), in idle order.
    template <class Predicate>
    std::vector<slot_ptr> take_idle_if(Predicate leave) {
        std::vector<slot_ptr> taken;
        for (auto it = idle_.begin(); it != idle_.end();) {
            if (!leave(**it)) {
                ++it;
                continue;
            }
            taken.push_back(std::move(*it));
            it = idle_.erase(it);
            ++in_use_;
        }
        return taken;
    }

    // Refuses from now on: every waiter learns that the pool closed. Returns the idle
    // connections, no longer counted.
    std::vector<slot_ptr> close() noexcept {
        closed_ = true;
        while (waiter_type* w = head_) {
            dequeue(*w);
            w->closed = true;
            w->done = true;
            w->wakeup.notify_one();
        }
        std::vector<slot_ptr> idle;
        idle.swap(idle_);
        total_ -= idle.size();
        return idle;
    }
    // Waits (the caller's lock held in `lock`) until every connection is back, or `deadline`.
    template <class Lock>
    void drain(Lock& lock, std::chrono::steady_clock::time_point deadline) {
        while (in_use_ != 0)
            if (drained_.wait_until(lock, deadline) == std::cv_status::timeout) break;
    }

    [[nodiscard]] bool closed() const noexcept { return closed_; }
    [[nodiscard]] std::size_t total() const noexcept { return total_; }
    [[nodiscard]] std::size_t idle() const noexcept { return idle_.size(); }
    [[nodiscard]] std::size_t in_use() const noexcept { return in_use_; }
    [[nodiscard]] std::size_t waiting() const noexcept { return waiting_; }

private:
    // Stores `w` in `defer` for the caller to notify after unlocking, or notifies it now (under
    // the lock: the waiter cannot leave before the caller is done).
    static void wake(waiter_type& w, wake_later* defer) noexcept {
        if (defer != nullptr && !*defer)
            *defer = w.shared_from_this();
        else
            w.wakeup.notify_one();
    }

    std::vector<slot_ptr> idle_; // the most recently returned last
    waiter_type* head_ = nullptr;
    waiter_type* tail_ = nullptr;
    std::size_t total_ = 0;
    std::size_t in_use_ = 0;
    std::size_t waiting_ = 0;
    std::size_t woken_ = 0; // waiters woken to take an idle connection, not yet back under the lock
    bool closed_ = false;
    Condition drained_; // signalled when the pool closed and the last connection came back
};

} // namespace sqlpool::detail
