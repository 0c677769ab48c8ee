// basic_pool: a thread-safe pool of SQLite connections built from five policies. The facade over
// basic_pool_core (:pool_core) that owns its maintenance thread and the transaction runner's counts.
module;
#include "detail/gmf.hpp"
export module sqlpool:pool;
import :errors;
import :deadline;
import :sqlite;
import :session;
import :config;
import :connection_info;
import :stats;
import :lease;
import :sqlite_source;
import :pool_slots;
import :pool_core;
import :locking;
import :queue;
import :health;
import :recycling;
import :isolation;
import :transaction;
import :fork_guard;

export namespace sqlpool {

// A pool of SQLite connections to one database, composed from five policies:
//   Locking   — how the idle set and waiters are synchronised (locking::std_mutex, spin, single_thread)
//   Health    — when and how connections are checked (health::ping, file_identity, quick_check, ...)
//   Recycling — when healthy connections retire (recycling::standard, max_age, max_uses<N>, ...)
//   Isolation — the default BEGIN mode (isolation::deferred, immediate, exclusive)
//   Queue     — who gets a returned connection, and which idle one goes first (queue::barging,
//               fifo, round_robin)
//   Clock     — where ages are measured (coarse_steady_clock: cheap, a few ms fine); tests pass
//               a clock they move by hand
// and from where its sessions come: Source (sqlite_source: SQLite connections; see :session for
// what another database's sessions must offer). read() and write() run on SQLite connections.
template <locking_policy Locking = locking::std_mutex, class Health = health::ping,
          recycling_policy Recycling = recycling::standard, class Isolation = isolation::deferred,
          queue_policy Queue = queue::barging, pool_clock Clock = coarse_steady_clock,
          session_source<pool_config> Source = sqlite_source>
    requires health_policy<Health, typename Source::session_type> &&
             isolation_policy<Isolation, typename Source::session_type::level_type>
class basic_pool {
    using core_type = basic_pool_core<Locking, Health, Recycling, Isolation, Queue, Clock, Source>;

public:
    using locking_type = Locking;
    using health_type = Health;
    using recycling_type = Recycling;
    using isolation_type = Isolation;
    using queue_type = Queue;
    using clock_type = Clock;
    using source_type = Source;
    using session_type = typename Source::session_type;
    using lease = basic_lease<session_type>;

    // Validates `config` (config_error lists every problem) and opens min_connections, so a
    // database that cannot be opened fails here (with min_connections = 0, on the first acquire).
    explicit basic_pool(pool_config config, Health health = {}, Recycling recycling = {}, Clock clock = {})
        : core_(start_core(std::move(config), std::move(health), std::move(recycling), std::move(clock))) {
        start_maintenance();
    }

    basic_pool(const basic_pool&) = delete;
    basic_pool& operator=(const basic_pool&) = delete;
    basic_pool(basic_pool&&) = delete;
    basic_pool& operator=(basic_pool&&) = delete;

    // Closes the pool (waiting up to close_timeout for leases). Leases still out afterwards stay
    // valid (they share ownership of the pool's core); their connections close when they are
    // returned.
    ~basic_pool() { close(); }

    // A lease on a connection, waiting up to acquire_timeout; throws timeout_error after that
    // (naming the longest holder), pool_closed_error once the pool is closed, and
    // nested_acquire_error when this thread holds a lease of the pool itself and none is left
    // (see pool_config::detect_nested_acquire). `where` is recorded as the holder's place.
    [[nodiscard]] lease acquire(std::source_location where = std::source_location::current()) {
        return acquire(core_->config().acquire_timeout, where);
    }
    [[nodiscard]] lease acquire(std::chrono::nanoseconds timeout,
                                std::source_location where = std::source_location::current()) {
        return live_core()->acquire(core_, timeout, true, where);
    }

    // A lease waiting until `limit` passes (timeout_error) or its stop_token is asked to stop
    // (cancelled_error). The lease's connection keeps the deadline until it is returned: no
    // statement starts after it, a running one is interrupted, lock waits end at it.
    [[nodiscard]] lease acquire(const deadline& limit,
                                std::source_location where = std::source_location::current()) {
        if (!limit.stop_requested() && limit.passed())
            throw timeout_error("the deadline passed before acquire() from the pool for '" +
                                    core_->config().database + "' began",
                                std::chrono::nanoseconds::zero());
        lease got = live_core()->acquire(core_, limit, true, where);
        got->set_deadline(limit);
        return got;
    }

    // Like acquire(), but std::nullopt instead of timeout_error.
    [[nodiscard]] std::optional<lease>
    try_acquire(std::chrono::nanoseconds timeout = std::chrono::nanoseconds::zero(),
                std::source_location where = std::source_location::current()) {
        lease got = live_core()->acquire(core_, timeout, false, where);
        if (!got) return std::nullopt;
        return got;
    }

    // Runs fn(connection&) in a transaction begun with the isolation policy's write_level
    // (IMMEDIATE for the stock policies), commits, and returns fn's result. A busy_error rolls
    // back and runs fn again after a jittered pause, until transaction_timeout; any other
    // exception rolls back and propagates. fn may run more than once: keep side effects outside
    // the database idempotent.
    // An I/O error from COMMIT itself is not retried and leaves the outcome unknown: SQLite may
    // have appended the commit to the WAL before failing, and recovery can then make it visible
    // (https://sqlite.org/wal.html). Check for such a write before doing it again.
    template <std::invocable<connection&> F>
    // fn may run again after a retry, so it is never forwarded.
    // NOLINTNEXTLINE(cppcoreguidelines-missing-std-forward)
    auto write(F&& fn, std::source_location where = std::source_location::current())
        -> std::invoke_result_t<F&, connection&> {
        return detail::run_transaction([&] { return acquire(where); }, live_core()->listener_sink(),
                                       Isolation::write_level, core_->config().transaction_timeout,
                                       deadline{}, tx_counts_, fn);
    }
    // write() within `limit`: the waits for a connection and for locks, the retries and fn's
    // statements all end at it, with timeout_error (cancelled_error on a stop request).
    template <std::invocable<connection&> F>
    // fn may run again after a retry, so it is never forwarded.
    // NOLINTNEXTLINE(cppcoreguidelines-missing-std-forward)
    auto write(const deadline& limit, F&& fn, std::source_location where = std::source_location::current())
        -> std::invoke_result_t<F&, connection&> {
        return detail::run_transaction([&] { return acquire(limit, where); }, live_core()->listener_sink(),
                                       Isolation::write_level, core_->config().transaction_timeout, limit,
                                       tx_counts_, fn);
    }

    // Like write(), in a DEFERRED transaction on a reader connection: a consistent snapshot.
    template <std::invocable<connection&> F>
    // fn may run again after a retry, so it is never forwarded.
    // NOLINTNEXTLINE(cppcoreguidelines-missing-std-forward)
    auto read(F&& fn, std::source_location where = std::source_location::current())
        -> std::invoke_result_t<F&, connection&> {
        return detail::run_transaction([&] { return acquire(where); }, live_core()->listener_sink(),
                                       isolation_level::deferred, core_->config().transaction_timeout,
                                       deadline{}, tx_counts_, fn);
    }
    // read() within `limit` (see write(limit, fn)).
    template <std::invocable<connection&> F>
    // fn may run again after a retry, so it is never forwarded.
    // NOLINTNEXTLINE(cppcoreguidelines-missing-std-forward)
    auto read(const deadline& limit, F&& fn, std::source_location where = std::source_location::current())
        -> std::invoke_result_t<F&, connection&> {
        return detail::run_transaction([&] { return acquire(limit, where); }, live_core()->listener_sink(),
                                       isolation_level::deferred, core_->config().transaction_timeout, limit,
                                       tx_counts_, fn);
    }

    // Every count of the pool.
    [[nodiscard]] pool_stats stats() const {
        pool_stats s = live_core()->stats();
        s.transactions.committed = tx_counts_.committed.load(std::memory_order_relaxed);
        s.transactions.rolled_back = tx_counts_.rolled_back.load(std::memory_order_relaxed);
        s.transactions.retried = tx_counts_.retried.load(std::memory_order_relaxed);
        s.transactions.busy_seen = tx_counts_.busy_seen.load(std::memory_order_relaxed);
        s.transactions.busy_surfaced = tx_counts_.busy_surfaced.load(std::memory_order_relaxed);
        return s;
    }

    // One round of maintenance at the pool clock's now (or `now`): retire, check, replenish.
    void maintain() { maintain(core_->clock().now()); }
    void maintain(std::chrono::steady_clock::time_point now) { live_core()->maintain(now); }

    // Operator controls. suspend(): new acquires (and read()/write()) wait, up to their timeout,
    // until resume(); leases already out stay valid and maintenance goes on. False when already
    // suspended, or closed. resume(): false when not suspended.
    bool suspend() { return live_core()->suspend(); }
    bool resume() { return live_core()->resume(); }
    [[nodiscard]] bool suspended() const { return live_core()->suspended(); }
    // Every connection open now retires: idle ones at once (returned: how many), leased ones when
    // they come back; the next acquires open new ones. After a migration, a key rotation or a
    // restore.
    std::size_t soft_evict() { return live_core()->soft_evict(); }
    // From now on keeps `min` connections open and allows `max` (stats() shows them; config()
    // keeps the configuration as given): idle connections beyond the new max close at once
    // (returned: how many), leased ones when they come back. config_error for invalid sizes.
    std::size_t resize(std::size_t min, std::size_t max) { return live_core()->resize(min, max); }
    // Every connection, idle or leased: metadata, holder, the statements running for a while.
    [[nodiscard]] std::vector<connection_snapshot> connections() const { return core_->connections(); }
    // The leases out now, longest held first: who holds each, since when, acquired where.
    [[nodiscard]] std::vector<lease_holder> holders() const { return core_->holders(); }

    // Stops maintenance, refuses new acquires, and closes every connection, waiting up to
    // close_timeout (or `timeout`) for leases; then interrupts what those still out run, and
    // reports them (see close_report; true when every connection is closed).
    close_report close() { return close(core_->config().close_timeout); }
    close_report close(std::chrono::nanoseconds timeout) {
        (void)live_core();
        stop_maintenance();
        return core_->close(timeout);
    }
    [[nodiscard]] bool closed() const { return core_->closed(); }

    [[nodiscard]] const pool_config& config() const noexcept { return core_->config(); }
    [[nodiscard]] Health& health_policy() noexcept { return core_->health(); }
    [[nodiscard]] Recycling& recycling_policy() noexcept { return core_->recycling(); }
    [[nodiscard]] Clock& clock() noexcept { return core_->clock(); }

private:
    static std::shared_ptr<core_type> start_core(pool_config config, Health health, Recycling recycling,
                                                 Clock clock) {
        auto core = std::make_shared<core_type>(std::move(config), std::move(health), std::move(recycling),
                                                std::move(clock));
        try {
            core->warm_up();
        } catch (...) {
            core->close(std::chrono::nanoseconds::zero());
            throw;
        }
        return core;
    }

    // The maintenance thread and what it waits on, replaced as a whole in a forked child.
    struct maintenance_loop {
        std::mutex mutex;
        std::condition_variable wakeup;
        bool stopping = false;
        std::thread thread;
    };

    void start_maintenance() const {
        if constexpr (locking_traits<Locking>::concurrent) {
            if (!core_->config().background_maintenance) return;
            maintenance_ = std::make_unique<maintenance_loop>();
            maintenance_->thread = std::thread([this, &loop = *maintenance_] { run_maintenance(loop); });
        }
    }

    void run_maintenance(maintenance_loop& loop) const {
        std::unique_lock lock(loop.mutex);
        while (!loop.stopping) {
            loop.wakeup.wait_for(lock, core_->config().maintenance_interval,
                                 [&loop] { return loop.stopping; });
            if (loop.stopping) break;
            lock.unlock();
            try {
                core_->maintain(core_->clock().now());
            } catch (...) {
                // Deliberately ignored: maintenance failures are counted in stats (open_failures);
                // the next round retries.
            }
            lock.lock();
        }
    }

    void stop_maintenance() {
        if (!maintenance_) return;
        {
            const std::lock_guard lock(maintenance_->mutex);
            maintenance_->stopping = true;
        }
        maintenance_->wakeup.notify_all();
        if (maintenance_->thread.joinable()) maintenance_->thread.join();
    }

    // The core of this process. In a child that fork() created, the first call leaves the
    // parent's core, connections and maintenance thread behind (neither used nor closed:
    // https://sqlite.org/howtocorrupt.html#fork) and goes on with a new core that opens
    // connections of its own.
    const std::shared_ptr<core_type>& live_core() const {
        if (detail::forked_since(born_.load(std::memory_order_acquire))) [[unlikely]]
            restart_after_fork();
        return core_;
    }

    void restart_after_fork() const {
        const std::lock_guard lock(fork_mutex_);
        if (!detail::forked_since(born_.load(std::memory_order_relaxed))) return; // another thread did
        auto fresh = std::make_shared<core_type>(core_->config(), core_->health(), core_->recycling(),
                                                 core_->clock()); // opens nothing until it is used
        detail::leave_behind(std::move(core_), std::move(maintenance_));
        core_ = std::move(fresh);
        start_maintenance();
        born_.store(detail::fork_generation_now(), std::memory_order_release);
    }

    mutable std::shared_ptr<core_type> core_;
    detail::transaction_counters tx_counts_;
    mutable std::unique_ptr<maintenance_loop> maintenance_;
    mutable std::atomic<std::uint64_t> born_{detail::fork_generation_now()}; // the process core_ belongs to
    mutable std::mutex fork_mutex_;
};

using pool = basic_pool<>;

} // namespace sqlpool
