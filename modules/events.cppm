// pool_listener: what a pool tells an observer about its life. Plug one in through
// pool_config::listener; without one, each event costs a null-pointer check.
module;
#include "detail/gmf.hpp"
export module sqlpool:events;
import :errors;
import :connection_info;
import :stats;

export namespace sqlpool {

// Override the events you need; every default does nothing. Events arrive on the thread that
// caused them (acquirers, releasers, the maintenance thread), outside the pool's lock, so they
// may run concurrently: make your listener thread-safe. An exception from a listener is caught
// and counted in pool_stats::listener_errors; the pool carries on as if the call had returned.
class pool_listener {
public:
    virtual ~pool_listener() = default;

    virtual void on_connect(const connection_info&) {}
    virtual void on_acquire(const connection_info&, std::chrono::nanoseconds /*waited*/) {}
    virtual void on_release(const connection_info&) {}
    virtual void on_retire(const connection_info&, retire_reason) {}
    virtual void on_health_check_failed(const connection_info&, check_point) {}
    virtual void on_timeout(std::chrono::nanoseconds /*waited*/) {}
    virtual void on_busy_retry(std::uint64_t /*attempt*/, const busy_error&) {}
    virtual void on_close() {}
    // Operator controls: suspend() and resume() ran; soft_evict() ran and closed `idle_closed`
    // idle connections at once (leased ones follow as they come back).
    virtual void on_suspend() {}
    virtual void on_resume() {}
    virtual void on_evict(std::size_t /*idle_closed*/) {}
    // resize() set min_connections and max_connections; `idle_closed` idle connections beyond the
    // new max closed at once (leased ones follow as they come back).
    virtual void on_resize(std::size_t /*min*/, std::size_t /*max*/, std::size_t /*idle_closed*/) {}
    // A lease has been held for pool_config::lease_warn_after: reported once per lease, from
    // maintenance, with its holder (thread, where it acquired, how long so far).
    virtual void on_long_lease(const lease_holder&) {}
    // The WAL passed wal_hard_limit and readers kept the escalated checkpoint from resetting it
    // within reader_gap: it goes on growing until they pause (see pool_config::checkpoints).
    virtual void on_wal_starved(std::uint64_t /*wal_bytes*/, std::uint64_t /*frames_behind*/) {}

protected:
    pool_listener() = default;
    pool_listener(const pool_listener&) = default;
    pool_listener& operator=(const pool_listener&) = default;
    pool_listener(pool_listener&&) = default;
    pool_listener& operator=(pool_listener&&) = default;
};

} // namespace sqlpool

namespace sqlpool::detail {

// Delivers one event to a listener, swallowing (and counting) what it throws. Out of line, so that
// the exception handling stays out of the pool's hot functions, which without a listener pay only
// notify()'s null check (docs/benchmarks.md measures what that costs).
template <class Event>
[[gnu::noinline]] void deliver(pool_listener& listener, std::atomic<std::uint64_t>& errors,
                               const Event& event) noexcept {
    try {
        event(listener);
    } catch (...) {
        errors.fetch_add(1, std::memory_order_relaxed);
    }
}

// Delivers one event to an optional listener; without one, the cost is this null check.
template <class Event>
void notify(pool_listener* listener, std::atomic<std::uint64_t>& errors, const Event& event) noexcept {
    if (listener != nullptr) [[unlikely]]
        deliver(*listener, errors, event);
}

// Where a pool's parts report events: its listener, if any, and its count of listener errors.
struct listener_sink {
    pool_listener* listener = nullptr;
    std::atomic<std::uint64_t>* errors = nullptr;
};

} // namespace sqlpool::detail
