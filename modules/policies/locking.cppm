// Locking policies: how a pool synchronises its idle set and its waiters.
module;
#include "../detail/gmf.hpp"
export module sqlpool:locking;

export namespace sqlpool {

// A locking policy supplies synchronisation primitives and nothing else: a mutex type and a
// condition type that waits on it. What else the pool needs to know about it comes from
// locking_traits. Who gets a returned connection is the queue policy's business.
template <class P>
concept locking_policy =
    requires {
        typename P::mutex_type;
        typename P::condition_type;
    } && std::default_initializable<typename P::mutex_type> &&
    std::default_initializable<typename P::condition_type> &&
    requires(typename P::mutex_type& mutex, typename P::condition_type& condition,
             std::unique_lock<typename P::mutex_type>& lock, std::chrono::steady_clock::time_point deadline) {
        mutex.lock();
        mutex.unlock();
        { mutex.try_lock() } -> std::convertible_to<bool>;
        condition.notify_one();
        condition.notify_all();
        { condition.wait_until(lock, deadline) } -> std::same_as<std::cv_status>;
    };

// The defaults for a locking policy; specialise it for a policy that differs.
template <class P>
struct locking_traits {
    // The pool is shared between threads: acquire on an exhausted pool waits, and maintenance
    // runs on a background thread. When false, acquire on an exhausted pool throws at once and
    // no thread is started.
    static constexpr bool concurrent = true;
};

} // namespace sqlpool

export namespace sqlpool::locking {

// std::mutex and std::condition_variable: the default, good at every contention level.
struct std_mutex {
    using mutex_type = std::mutex;
    using condition_type = std::condition_variable;
};

// A test-and-test-and-set lock that spins with a CPU pause, then yields, then parks on the atomic
// (futex) after a bound, so a preempted holder never makes waiters burn a core.
class spin_mutex {
public:
    void lock() noexcept {
        for (unsigned spins = 0; !try_lock(); ++spins) {
            if (spins < spin_limit) {
                pause();
            } else if (spins < spin_limit + yield_limit) {
                std::this_thread::yield();
            } else {
                // seq_cst here and in unlock(): the parked count and the lock word form a
                // Dekker pair, so an unlock cannot miss a thread that is about to sleep.
                parked_.fetch_add(1, std::memory_order_seq_cst);
                locked_.wait(true, std::memory_order_seq_cst);
                parked_.fetch_sub(1, std::memory_order_relaxed);
            }
        }
    }
    [[nodiscard]] bool try_lock() noexcept {
        return !locked_.load(std::memory_order_relaxed) && !locked_.exchange(true, std::memory_order_acquire);
    }
    void unlock() noexcept {
        locked_.store(false, std::memory_order_seq_cst);
        if (parked_.load(std::memory_order_seq_cst) != 0) locked_.notify_one();
    }

private:
    static constexpr unsigned spin_limit = 64;
    static constexpr unsigned yield_limit = 16;
    static void pause() noexcept {
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#elif defined(__aarch64__)
        asm volatile("yield");
#endif
    }

    std::atomic<bool> locked_{false};
    std::atomic<unsigned> parked_{0};
};

struct spin {
    using mutex_type = spin_mutex;
    using condition_type = std::condition_variable_any;
};

// No synchronisation at all, for a pool used by one thread only.
struct null_mutex {
    void lock() noexcept {}
    void unlock() noexcept {}
    [[nodiscard]] bool try_lock() noexcept { return true; }
};

struct null_condition {
    void notify_one() noexcept {}
    void notify_all() noexcept {}
    std::cv_status wait_until(std::unique_lock<null_mutex>&, std::chrono::steady_clock::time_point) noexcept {
        return std::cv_status::timeout;
    }
};

struct single_thread {
    using mutex_type = null_mutex;
    using condition_type = null_condition;
};

} // namespace sqlpool::locking

export namespace sqlpool {

template <>
struct locking_traits<locking::single_thread> {
    static constexpr bool concurrent = false;
};

} // namespace sqlpool
