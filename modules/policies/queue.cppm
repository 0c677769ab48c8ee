// Queue policies: who gets a connection that comes back while threads wait, and which idle
// connection an acquire takes.
module;
#include "../detail/gmf.hpp"
export module sqlpool:queue;

export namespace sqlpool {

// What a returned connection does while threads wait for one.
enum class handoff_mode {
    // It goes back to the idle set and the longest waiter is woken; a thread already running may
    // take it first. Saves a context switch per release under contention; waiters still go in
    // arrival order among themselves.
    barging,
    // It goes straight into the longest waiter's hands: strictly first come, first served, at the
    // price of a context switch per release under contention (docs/benchmarks.md).
    direct,
};

// Which idle connection an acquire takes.
enum class reuse_order {
    lifo, // the one this thread returned last, else the first idle one: warm caches, and the
          // rest can age out
    fifo, // the next one in turn: uses spread evenly over every open connection
};

// A queue policy names both: `handoff` and `reuse`.
template <class Q>
concept queue_policy = requires {
    { Q::handoff } -> std::convertible_to<handoff_mode>;
    { Q::reuse } -> std::convertible_to<reuse_order>;
};

} // namespace sqlpool

export namespace sqlpool::queue {

// The default: barging hand-off, this thread's last connection first.
struct barging {
    static constexpr handoff_mode handoff = handoff_mode::barging;
    static constexpr reuse_order reuse = reuse_order::lifo;
};

// Strict first-come, first-served hand-off to waiters (this thread's last connection first when
// nobody waits).
struct fifo {
    static constexpr handoff_mode handoff = handoff_mode::direct;
    static constexpr reuse_order reuse = reuse_order::lifo;
};

// Barging hand-off; idle connections are taken in turn.
struct round_robin {
    static constexpr handoff_mode handoff = handoff_mode::barging;
    static constexpr reuse_order reuse = reuse_order::fifo;
};

} // namespace sqlpool::queue
