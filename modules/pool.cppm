// basic_pool: a thread-safe pool of SQLite connections built from four policies.
module;
#include "detail/gmf.hpp"
export module sqlpool:pool;
import :errors;
import :sqlite;
import :config;
import :connection_info;
import :stats;
import :events;
import :lease;
import :file_generation;
import :locking;
import :queue;
import :health;
import :recycling;
import :isolation;
import :transaction;

export namespace sqlpool {

// acquire() waited acquire_timeout (or the time given) and got no connection.
class timeout_error : public error {
public:
    timeout_error(const std::string& what, std::chrono::nanoseconds waited, pool_stats stats)
        : error(what), waited_(waited), stats_(stats) {}
    [[nodiscard]] std::chrono::nanoseconds waited() const noexcept { return waited_; }
    [[nodiscard]] const pool_stats& stats() const noexcept { return stats_; }

private:
    std::chrono::nanoseconds waited_;
    pool_stats stats_;
};

// The pool was closed: it hands out no more connections.
class pool_closed_error : public error {
public:
    using error::error;
};

} // namespace sqlpool

namespace sqlpool::detail {

inline std::atomic<std::uint64_t> memory_database_counter{0};

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

// Where the pool's connections connect. ":memory:" becomes one named in-memory database that all
// of the pool's connections share (SQLite's memdb VFS, https://sqlite.org/inmemorydb.html); an
// in-memory URI that would give each connection a private database is refused.
inline std::string resolve_database(const std::string& database) {
    if (database == ":memory:")
        return "file:/sqlpool-memory-" + std::to_string(::getpid()) + "-" +
               std::to_string(memory_database_counter.fetch_add(1)) + "?vfs=memdb";
    if (!is_memory_path(database)) return database;
    // memdb databases whose name starts with '/' are shared within the process; others, and
    // ":memory:" itself, are private to one connection.
    const bool shared_memdb = database.starts_with("file:/") && uri_parameter(database, "vfs") == "memdb";
    const bool shared_cache = uri_parameter(database, "mode") == "memory" &&
                              uri_parameter(database, "cache") == "shared" &&
                              !database.starts_with("file::memory:");
    if (shared_memdb || shared_cache) return database;
    throw config_error({"database '" + database +
                        "' would give every pooled connection its own private in-memory database; use "
                        "\":memory:\" (one database shared by the pool) or a named URI such as "
                        "\"file:/name?vfs=memdb\""});
}

} // namespace sqlpool::detail

namespace sqlpool {

// The pool's shared state. Heap-allocated and owned by basic_pool until the pool is destroyed;
// if leases are still out then, the last one to come back deletes it.
template <class Locking, class Health, class Recycling, class Isolation, class Queue, class Clock>
class basic_pool_core final : public detail::lease_owner {
    using mutex_type = typename Locking::mutex_type;
    using condition_type = typename Locking::condition_type;
    using lock_type = std::unique_lock<mutex_type>;
    using slot_ptr = std::unique_ptr<detail::slot>;
    using steady = std::chrono::steady_clock;

    // A thread blocked in acquire(), linked into a FIFO queue. Shared, so that a releasing thread
    // can wake it after unlocking the pool (the woken thread then finds the mutex free instead of
    // blocking on it at once) without the waiter and its condition variable going away meanwhile.
    struct waiter : std::enable_shared_from_this<waiter> {
        waiter* next = nullptr;
        waiter* prev = nullptr;
        condition_type wakeup;
        slot_ptr handed;       // a connection handed over by a releasing thread
        bool may_open = false; // or the right to open one (its capacity is reserved)
        bool closed = false;   // or the news that the pool closed
        bool done = false;     // with none of the above: a connection went idle, try again
    };

    // Strict handoff (every released connection goes to the longest waiter) or barging (it goes
    // back to the idle stack and the longest waiter is woken; a running thread may take it first).
    static constexpr bool strict_fifo = Queue::handoff == handoff_mode::direct;
    static constexpr bool concurrent = locking_traits<Locking>::concurrent;
    static constexpr auto checkout_bypass = health_traits<Health>::checkout_bypass;

public:
    basic_pool_core(pool_config config, Health health, Recycling recycling, Clock clock)
        : config_(std::move(config)), health_(std::move(health)), recycling_(std::move(recycling)),
          clock_(std::move(clock)), options_(config_.connection_options()), rng_(std::random_device{}()) {
        config_.check();
        options_.path = detail::resolve_database(config_.database);
        if (options_.path != config_.database)
            keeper_.emplace(options_); // keeps the shared in-memory database alive
    }

    // Opens min_connections; a database that cannot be opened fails here, clearly. With
    // min_connections = 0 nothing opens until the first acquire (which then fails, as clearly).
    void warm_up() {
        const std::size_t want = config_.min_connections;
        std::vector<slot_ptr> opened;
        try {
            for (std::size_t i = 0; i < want; ++i) opened.push_back(open_slot());
        } catch (...) {
            {
                lock_type lock(mutex_);
                closed_counts_.add(retire_reason::shutdown, opened.size());
            }
            for (auto& s : opened) retire_event(s->info, retire_reason::shutdown);
            throw;
        }
        lock_type lock(mutex_);
        for (auto& s : opened) {
            ++total_;
            idle_.push_back(std::move(s));
        }
    }

    // A lease, or (when !throw_on_timeout) an empty one after `timeout`. Returning the lease
    // itself rather than an optional saves a move and a destructor on every acquire.
    lease acquire(std::chrono::nanoseconds timeout, bool throw_on_timeout) {
        lock_type lock(mutex_);
        steady::time_point started{};
        bool waited = false;
        bool retrying = false; // woken to take an idle connection that someone else took first
        while (true) {
            if (closed_) throw pool_closed_error("pool for '" + config_.database + "' is closed");
            slot_ptr chosen;
            bool open_new = false;
            if (!idle_.empty() && (!strict_fifo || queue_empty())) {
                chosen = take_idle();
                ++in_use_;
                if (retrying) wake_for_idle(nullptr); // more came back while this one was on its way
            } else if (total_ < config_.max_connections) {
                ++total_;
                ++in_use_;
                open_new = true;
            } else if constexpr (!concurrent) {
                ++timeouts_;
                return timed_out(lock, std::chrono::nanoseconds::zero(), throw_on_timeout,
                                 " (single_thread locking never waits)");
            } else {
                if (!waited) {
                    started = steady::now();
                    waited = true;
                }
                const auto owner = std::make_shared<waiter>();
                waiter& self = *owner;
                if (retrying) {
                    enqueue_front(self); // keeps its place in line
                } else {
                    enqueue(self);
                }
                const auto deadline = detail::deadline_after(started, timeout);
                while (!self.done)
                    if (self.wakeup.wait_until(lock, deadline) == std::cv_status::timeout && !self.done)
                        break;
                if (!self.done) {
                    dequeue(self);
                    ++timeouts_;
                    return timed_out(lock, steady::now() - started, throw_on_timeout, "");
                }
                if (self.closed) throw pool_closed_error("pool for '" + config_.database + "' is closed");
                if (self.handed) {
                    chosen = std::move(self.handed);
                } else if (self.may_open) {
                    open_new = true;
                } else {
                    --woken_;
                    retrying = true;
                    continue;
                }
            }
            if (!open_new) ++acquired_; // a new connection counts once it opened
            const auto wait = waited ? steady::now() - started : std::chrono::nanoseconds::zero();
            waits_.record(wait);
            lock.unlock();
            if (open_new) return hand_out(open_reserved(true), wait);
            if (checkout_healthy(*chosen)) return hand_out(std::move(chosen), wait);
            // Unhealthy: close it and open a replacement with the same reserved capacity.
            notify([&](pool_listener& listener) {
                listener.on_health_check_failed(chosen->info, check_point::on_checkout);
            });
            retire_event(chosen->info, retire_reason::unhealthy);
            chosen.reset();
            {
                lock_type relock(mutex_);
                closed_counts_.add(retire_reason::unhealthy);
                ++failed_health_checks_;
                --acquired_; // counted again when the replacement opens
            }
            return hand_out(open_reserved(true), wait);
        }
    }

    void give_back(slot_ptr leased) noexcept override {
        // The hot-path events capture what they report, not the locals: a local captured by
        // reference would have to live in memory even when no listener is set.
        notify([&info = leased->info](pool_listener& listener) { listener.on_release(info); });
        retire_reason reason = retire_reason::none;
        bool reset = false;
        try {
            reason = reset_on_return(*leased, reset);
        } catch (...) {
            reason = retire_reason::broken;
        }
        if (reason == retire_reason::unhealthy)
            notify([&](pool_listener& listener) {
                listener.on_health_check_failed(leased->info, check_point::on_return);
            });
        lock_type lock(mutex_);
        if (reset) ++resets_;
        if (reason == retire_reason::unhealthy) ++failed_health_checks_;
        if (leased->conn.broken_code() == SQLITE_READONLY_DBMOVED && files_.is_current(leased->generation))
            [[unlikely]]
            end_file_generation(lock);
        if (!files_.is_current(leased->generation)) reason = retire_reason::broken;
        std::shared_ptr<waiter> wake; // woken once the pool is unlocked
        if (reason == retire_reason::none && !closed_) {
            put_back(lock, std::move(leased), &wake);
        } else {
            if (closed_) reason = retire_reason::shutdown;
            closed_counts_.add(reason);
            lock.unlock();
            retire_event(leased->info, reason);
            leased.reset(); // closes the connection, outside the lock
            lock.lock();
            free_capacity(lock);
        }
        finish_if_orphaned(lock); // may unlock and delete the pool: `wake` does not depend on it
        if (lock.owns_lock()) lock.unlock();
        if (wake) wake->wakeup.notify_one();
    }

    // Retires aged, idle (above min_connections), over-used and unhealthy idle connections, runs
    // the periodic health checks that are due, and opens connections up to min_connections.
    void maintain(steady::time_point now) {
        std::vector<std::pair<slot_ptr, retire_reason>> retiring;
        std::vector<slot_ptr> checking;
        lock_type lock(mutex_);
        if (closed_) return;
        std::size_t staying = total_;
        for (auto it = idle_.begin(); it != idle_.end();) {
            const retire_reason reason = recycling_.retire(
                (*it)->info,
                {.now = now, .config = config_, .may_shrink = staying > config_.min_connections});
            const bool check_due = includes(Health::when, check_point::periodic) &&
                                   now - (*it)->info.last_checked_at >= config_.health_check_interval;
            if (reason != retire_reason::none) {
                retiring.emplace_back(std::move(*it), reason);
                --staying;
            } else if (check_due) {
                checking.push_back(std::move(*it));
            } else {
                ++it;
                continue;
            }
            it = idle_.erase(it);
            ++in_use_;
        }
        lock.unlock();

        std::vector<slot_ptr> failed;
        for (auto& s : checking) {
            s->info.last_checked_at = now;
            if (run_check(*s, check_point::periodic) == health_status::unhealthy) {
                notify([&](pool_listener& listener) {
                    listener.on_health_check_failed(s->info, check_point::periodic);
                });
                failed.push_back(std::move(s));
            }
        }
        for (auto& [s, reason] : retiring) {
            retire_event(s->info, reason);
            s.reset();
        }
        for (auto& s : failed) {
            retire_event(s->info, retire_reason::unhealthy);
            s.reset();
        }

        lock.lock();
        for (auto& [s, reason] : retiring) {
            closed_counts_.add(reason);
            free_capacity(lock);
        }
        for (std::size_t i = 0; i < failed.size(); ++i) {
            closed_counts_.add(retire_reason::unhealthy);
            ++failed_health_checks_;
            free_capacity(lock);
        }
        if (closed_) { // close() ran while these were being checked: they close instead of going back
            std::vector<slot_ptr> closing;
            for (auto& s : checking)
                if (s) closing.push_back(std::move(s));
            close_slots(lock, std::move(closing), retire_reason::shutdown);
            return;
        }
        for (auto& s : checking)
            if (s) put_back(lock, std::move(s));
        replenish(lock, now);
    }

    // Refuses new acquires, wakes every waiter, closes idle connections and waits up to
    // `timeout` for leased ones to come back. True when every connection is closed.
    bool close(std::chrono::nanoseconds timeout) {
        std::vector<slot_ptr> closing;
        lock_type lock(mutex_);
        const bool first_close = !closed_;
        if (!closed_) {
            closed_ = true;
            while (waiter* w = queue_head_) {
                dequeue(*w);
                w->closed = true;
                w->done = true;
                w->wakeup.notify_one();
            }
        }
        closing.swap(idle_);
        closed_counts_.add(retire_reason::shutdown, closing.size());
        total_ -= closing.size();
        lock.unlock();
        if (first_close) notify([](pool_listener& listener) { listener.on_close(); });
        for (auto& s : closing) retire_event(s->info, retire_reason::shutdown);
        closing.clear();
        keeper_.reset();
        lock.lock();
        if constexpr (concurrent) {
            const auto deadline = detail::deadline_after(steady::now(), timeout);
            while (in_use_ != 0)
                if (drained_.wait_until(lock, deadline) == std::cv_status::timeout) break;
        }
        return total_ == 0;
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
        return closed_;
    }

    const pool_config& config() const noexcept { return config_; }
    detail::listener_sink listener_sink() noexcept { return {config_.listener.get(), &listener_errors_}; }
    Health& health() noexcept { return health_; }
    Recycling& recycling() noexcept { return recycling_; }
    Clock& clock() noexcept { return clock_; }

private:
    bool queue_empty() const noexcept { return queue_head_ == nullptr; }

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
        return s;
    }

    template <class Event>
    void notify(const Event& event) noexcept {
        detail::notify(config_.listener.get(), listener_errors_, event);
    }
    void retire_event(const connection_info& info, retire_reason reason) noexcept {
        notify([&](pool_listener& listener) { listener.on_retire(info, reason); });
    }
    // Inlined by force: out of line, the call alone cost more than the listener check inside it.
    [[gnu::always_inline]] lease hand_out(slot_ptr s, std::chrono::nanoseconds wait) noexcept {
        notify([&info = s->info, wait](pool_listener& listener) { listener.on_acquire(info, wait); });
        return detail::make_lease(this, std::move(s));
    }

    void enqueue(waiter& w) noexcept {
        w.prev = queue_tail_;
        if (queue_tail_ != nullptr)
            queue_tail_->next = &w;
        else
            queue_head_ = &w;
        queue_tail_ = &w;
        ++waiting_;
    }

    void enqueue_front(waiter& w) noexcept {
        w.next = queue_head_;
        if (queue_head_ != nullptr)
            queue_head_->prev = &w;
        else
            queue_tail_ = &w;
        queue_head_ = &w;
        ++waiting_;
    }

    void dequeue(waiter& w) noexcept {
        if (w.prev != nullptr)
            w.prev->next = w.next;
        else
            queue_head_ = w.next;
        if (w.next != nullptr)
            w.next->prev = w.prev;
        else
            queue_tail_ = w.prev;
        w.next = w.prev = nullptr;
        --waiting_;
    }

    // A healthy connection comes back. Strict FIFO: straight to the first waiter. Otherwise to the
    // idle stack, waking the first waiter to take it: a thread already running may take it first,
    // which saves a context switch per release under contention (the woken waiter then queues
    // again at the head, so waiters still go in arrival order among themselves).
    // With `defer`, the waiter to wake is stored there for the caller to notify after unlocking;
    // without, it is notified now, under the lock (the waiter cannot leave before we are done).
    void put_back(lock_type&, slot_ptr s, std::shared_ptr<waiter>* defer = nullptr) noexcept {
        if constexpr (strict_fifo) {
            if (waiter* w = queue_head_) {
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
    void wake_for_idle(std::shared_ptr<waiter>* defer) noexcept {
        waiter* w = queue_head_;
        if (w == nullptr || woken_ >= idle_.size()) return;
        dequeue(*w);
        w->done = true;
        ++woken_;
        wake(*w, defer);
    }

    // Stores `w` in `defer` for the caller to notify after unlocking, or notifies it now.
    static void wake(waiter& w, std::shared_ptr<waiter>* defer) noexcept {
        if (defer != nullptr && !*defer)
            *defer = w.shared_from_this();
        else
            w.wakeup.notify_one();
    }

    // A reserved connection's capacity is free again: the first waiter may open a connection with
    // it; otherwise the pool shrinks.
    void free_capacity(lock_type&) noexcept {
        if (waiter* w = queue_head_; w != nullptr && !closed_) {
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

    // Closes reserved connections outside the lock and frees their capacity.
    void close_slots(lock_type& lock, std::vector<slot_ptr> slots, retire_reason reason) {
        closed_counts_.add(reason, slots.size());
        const std::size_t count = slots.size();
        lock.unlock();
        for (auto& s : slots) retire_event(s->info, reason);
        slots.clear();
        lock.lock();
        for (std::size_t i = 0; i < count; ++i) free_capacity(lock);
    }

    // The database file was deleted or replaced: every connection opened so far has the old file
    // open. Idle ones close now, leased ones when they come back (see file_generation).
    void end_file_generation(lock_type& lock) {
        files_.end();
        std::vector<slot_ptr> stale;
        for (auto it = idle_.begin(); it != idle_.end();) {
            if (files_.is_current((*it)->generation)) {
                ++it;
                continue;
            }
            stale.push_back(std::move(*it));
            it = idle_.erase(it);
            ++in_use_;
        }
        if (!stale.empty()) close_slots(lock, std::move(stale), retire_reason::broken);
    }

    // Before a connection opens: when the file at the path is another than the current
    // generation's, ends that generation, then waits (up to acquire_timeout) until every
    // connection to the old file has closed. Returns the token for the new connection.
    std::shared_ptr<const int> file_generation_for_open() {
        const detail::file_key at_path = files_.key_at_path();
        const auto deadline = detail::deadline_after(steady::now(), config_.acquire_timeout);
        lock_type lock(mutex_);
        if (files_.changed(at_path)) end_file_generation(lock);
        while (!files_.ended_closed()) {
            if (steady::now() >= deadline)
                throw database_moved_error("the database file '" + config_.database +
                                               "' was deleted or replaced, and leases on the old file "
                                               "were still out after acquire_timeout: return them first",
                                           "");
            lock.unlock();
            std::this_thread::sleep_for(std::chrono::milliseconds(1)); // rare: only after a move
            lock.lock();
        }
        return files_.current();
    }

    void finish_if_orphaned(lock_type& lock) noexcept {
        if (!orphaned_ || in_use_ != 0) return;
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

    // Opens a connection for capacity this thread reserved; gives the capacity up if it fails.
    slot_ptr open_reserved(bool leased) {
        try {
            return open_slot(leased);
        } catch (...) {
            lock_type lock(mutex_);
            ++open_failures_;
            free_capacity(lock);
            throw;
        }
    }

    // Opens and registers a connection; `leased` counts it as acquired.
    slot_ptr open_slot(bool leased = false) {
        auto generation = file_generation_for_open();
        auto s =
            std::make_unique<detail::slot>(detail::slot{std::move(generation), connection(options_), {}});
        const auto now = clock_.now();
        s->info.created_at = s->info.last_used_at = s->info.last_checked_at = now;
        s->info.health = health_status::healthy;
        s->info.file_device = s->conn.file_device();
        s->info.file_inode = s->conn.file_inode();
        s->conn.set_default_isolation(Isolation::default_level);
        run_on_connect(s->conn);
        s->conn.accept_session_state(); // what on_connect set up is the configured session
        const detail::file_key opened{s->info.file_device, s->info.file_inode};
        {
            lock_type lock(mutex_);
            if (files_.is_current(s->generation)) files_.opened(s->conn.filename(), opened);
            s->info.id = ++created_;
            if (leased) ++acquired_;
            s->info.age_jitter = std::uniform_real_distribution<double>(0.0, 1.0)(rng_);
        }
        notify([&](pool_listener& listener) { listener.on_connect(s->info); });
        return s;
    }

    // The user's on_connect; what it throws reaches the caller as a sqlpool::error.
    void run_on_connect(connection& conn) {
        if (!config_.on_connect) return;
        try {
            config_.on_connect(conn);
        } catch (const error&) {
            throw;
        } catch (...) {
            std::throw_with_nested(hook_error("on_connect failed on a new connection to '" +
                                              config_.database + "' (the original exception is nested)"));
        }
    }

    bool checkout_healthy(detail::slot& s) {
        if (s.conn.broken_code() != 0) return false;
        if constexpr (includes(Health::when, check_point::on_checkout)) {
            if constexpr (checkout_bypass > checkout_bypass.zero()) {
                if (clock_.now() - s.info.last_used_at < checkout_bypass) return true;
            }
            s.info.last_checked_at = clock_.now();
            return run_check(s, check_point::on_checkout) != health_status::unhealthy;
        }
        return true;
    }

    health_status run_check(detail::slot& s, check_point point) noexcept {
        health_status status = health_status::unhealthy;
        try {
            status = health_.check(s.conn, s.info, point);
        } catch (...) {
            // Deliberately ignored: a check that throws counts as unhealthy.
        }
        s.info.health = status;
        return status;
    }

    // Makes a returned connection clean for the next borrower, and decides whether it stays.
    retire_reason reset_on_return(detail::slot& s, bool& reset) {
        connection& conn = s.conn;
        reset = conn.reset_all_statements() != 0;
        if (conn.in_transaction()) {
            reset = true;
            conn.exec("ROLLBACK");
            if (conn.in_transaction()) return retire_reason::broken;
        }
        if (conn.broken_code() != 0) {
            s.info.last_error = conn.broken_code();
            return retire_reason::broken;
        }
        // Session state a borrower left that the pool cannot restore (a setting it did not
        // configure, temporary schema, an attached database): the next borrower gets a fresh one.
        if (conn.session_tainted()) return retire_reason::broken;
        conn.set_default_isolation(Isolation::default_level); // set_default_isolation() is per lease
        if (conn.settings_changed()) {
            reset = true;
            conn.restore_settings();
        }
        const auto now = clock_.now();
        ++s.info.use_count;
        s.info.last_used_at = now;
        if constexpr (includes(Health::when, check_point::on_return)) {
            if (run_check(s, check_point::on_return) == health_status::unhealthy)
                return retire_reason::unhealthy;
        }
        return recycling_.retire(s.info, {.now = now, .config = config_});
    }

    // Opens connections up to min_connections, backing off after a failure.
    void replenish(lock_type& lock, steady::time_point now) {
        if (closed_ || total_ >= config_.min_connections || now < next_open_attempt_) return;
        const std::size_t deficit = config_.min_connections - total_;
        total_ += deficit;
        in_use_ += deficit;
        lock.unlock();
        std::vector<slot_ptr> opened;
        std::size_t failures = 0;
        for (std::size_t i = 0; i < deficit; ++i) {
            try {
                opened.push_back(open_slot());
            } catch (...) {
                ++failures;
            }
        }
        lock.lock();
        for (std::size_t i = 0; i < failures; ++i) free_capacity(lock);
        open_failures_ += failures;
        if (closed_) { // close() ran while these were opening
            close_slots(lock, std::move(opened), retire_reason::shutdown);
            return;
        }
        for (auto& s : opened) put_back(lock, std::move(s));
        if (failures != 0) {
            open_backoff_ = std::min<std::chrono::milliseconds>(
                std::max(open_backoff_ * 2, std::chrono::milliseconds(100)),
                std::chrono::milliseconds(30'000));
            next_open_attempt_ = now + open_backoff_;
        } else {
            open_backoff_ = {};
        }
    }

    pool_stats stats_locked() const {
        pool_stats s;
        s.total = total_;
        s.idle = idle_.size();
        s.in_use = in_use_;
        s.waiting = waiting_;
        s.max_connections = config_.max_connections;
        s.acquired = acquired_;
        s.timeouts = timeouts_;
        s.created = created_;
        s.open_failures = open_failures_;
        s.closed = closed_counts_;
        s.resets = resets_;
        s.failed_health_checks = failed_health_checks_;
        s.listener_errors = listener_errors_.load(std::memory_order_relaxed);
        s.wait_p50 = waits_.quantile(0.50);
        s.wait_p99 = waits_.quantile(0.99);
        s.wait_max = waits_.max();
        return s;
    }

    pool_config config_;
    [[no_unique_address]] Health health_;
    [[no_unique_address]] Recycling recycling_;
    [[no_unique_address]] Clock clock_;
    open_options options_;
    std::optional<connection> keeper_;
    detail::file_generation files_; // under mutex_

    mutable mutex_type mutex_;
    condition_type drained_;
    std::vector<slot_ptr> idle_; // the most recently returned last: reused first, cache warm
    waiter* queue_head_ = nullptr;
    waiter* queue_tail_ = nullptr;
    std::size_t total_ = 0;
    std::size_t in_use_ = 0;
    std::size_t waiting_ = 0;
    std::size_t woken_ = 0; // waiters woken to take an idle connection, not yet back under the lock
    bool closed_ = false;
    bool orphaned_ = false;

    std::mt19937_64 rng_;
    steady::time_point next_open_attempt_;
    std::chrono::milliseconds open_backoff_{};

    std::uint64_t acquired_ = 0;
    std::uint64_t timeouts_ = 0;
    std::uint64_t created_ = 0;
    std::uint64_t open_failures_ = 0;
    std::uint64_t resets_ = 0;
    std::uint64_t failed_health_checks_ = 0;
    std::atomic<std::uint64_t> listener_errors_{0}; // also counted outside the lock
    retired_counts closed_counts_;
    detail::wait_histogram waits_;
};

} // namespace sqlpool

export namespace sqlpool {

// A pool of SQLite connections to one database, composed from five policies:
//   Locking   — how the idle set and waiters are synchronised (locking::std_mutex, spin, single_thread)
//   Health    — when and how connections are checked (health::ping, file_identity, quick_check, ...)
//   Recycling — when healthy connections retire (recycling::standard, max_age, max_uses<N>, ...)
//   Isolation — the default BEGIN mode (isolation::deferred, immediate, exclusive)
//   Queue     — who gets a returned connection, and which idle one goes first (queue::barging,
//               fifo, round_robin)
//   Clock     — where ages are measured; tests pass a clock they move by hand
template <locking_policy Locking = locking::std_mutex, health_policy Health = health::ping,
          recycling_policy Recycling = recycling::standard, isolation_policy Isolation = isolation::deferred,
          queue_policy Queue = queue::barging, pool_clock Clock = std::chrono::steady_clock>
class basic_pool {
    using core_type = basic_pool_core<Locking, Health, Recycling, Isolation, Queue, Clock>;

public:
    using locking_type = Locking;
    using health_type = Health;
    using recycling_type = Recycling;
    using isolation_type = Isolation;
    using queue_type = Queue;
    using clock_type = Clock;

    // Validates `config` (config_error lists every problem) and opens min_connections, so a
    // database that cannot be opened fails here (with min_connections = 0, on the first acquire).
    explicit basic_pool(pool_config config, Health health = {}, Recycling recycling = {}, Clock clock = {}) {
        if constexpr (split) {
            config.check();
            writer_ = start_core(writer_config(config), health, recycling, clock);
            try {
                core_ = start_core(reader_config(std::move(config)), std::move(health), std::move(recycling),
                                   std::move(clock));
            } catch (...) {
                writer_->close(std::chrono::nanoseconds::zero());
                writer_->orphan();
                throw;
            }
        } else {
            core_ = start_core(std::move(config), std::move(health), std::move(recycling), std::move(clock));
        }
        if constexpr (locking_traits<Locking>::concurrent) {
            if (core_->config().background_maintenance)
                maintenance_ = std::thread([this] { run_maintenance(); });
        }
    }

    basic_pool(const basic_pool&) = delete;
    basic_pool& operator=(const basic_pool&) = delete;
    basic_pool(basic_pool&&) = delete;
    basic_pool& operator=(basic_pool&&) = delete;

    // Closes the pool (waiting up to close_timeout for leases). Leases still out afterwards stay
    // valid; their connections close when they are returned.
    ~basic_pool() {
        close();
        core_->orphan();
        if (writer_ != nullptr) writer_->orphan();
    }

    // A lease on a connection, waiting up to acquire_timeout; throws timeout_error after that, and
    // pool_closed_error once the pool is closed.
    [[nodiscard]] lease acquire() { return acquire(core_->config().acquire_timeout); }
    [[nodiscard]] lease acquire(std::chrono::nanoseconds timeout) { return core_->acquire(timeout, true); }

    // The connection write() uses: with read_write_split the one writer connection (waiting up to
    // the longer of acquire_timeout and transaction_timeout), otherwise the same as acquire().
    [[nodiscard]] lease acquire_writer() {
        core_type* target = writer_ != nullptr ? writer_ : core_;
        return target->acquire(target->config().acquire_timeout, true);
    }

    // Like acquire(), but std::nullopt instead of timeout_error.
    [[nodiscard]] std::optional<lease>
    try_acquire(std::chrono::nanoseconds timeout = std::chrono::nanoseconds::zero()) {
        lease got = core_->acquire(timeout, false);
        if (!got) return std::nullopt;
        return got;
    }

    // Runs fn(connection&) in a transaction begun with the isolation policy's write_level
    // (IMMEDIATE for the stock policies), commits, and returns fn's result. A busy_error rolls
    // back and runs fn again after a jittered pause, until transaction_timeout; any other
    // exception rolls back and propagates. fn may run more than once: keep side effects outside
    // the database idempotent. With isolation::read_write_split, fn gets the one writer connection.
    // An I/O error from COMMIT itself is not retried and leaves the outcome unknown: SQLite may
    // have appended the commit to the WAL before failing, and recovery can then make it visible
    // (https://sqlite.org/wal.html). Check for such a write before doing it again.
    template <std::invocable<connection&> F>
    // fn may run again after a retry, so it is never forwarded.
    // NOLINTNEXTLINE(cppcoreguidelines-missing-std-forward)
    auto write(F&& fn) -> std::invoke_result_t<F&, connection&> {
        return detail::run_transaction([&] { return acquire_writer(); }, core_->listener_sink(),
                                       Isolation::write_level, core_->config().transaction_timeout,
                                       tx_counts_, fn);
    }

    // Like write(), in a DEFERRED transaction on a reader connection: a consistent snapshot.
    template <std::invocable<connection&> F>
    // fn may run again after a retry, so it is never forwarded.
    // NOLINTNEXTLINE(cppcoreguidelines-missing-std-forward)
    auto read(F&& fn) -> std::invoke_result_t<F&, connection&> {
        return detail::run_transaction([&] { return acquire(); }, core_->listener_sink(),
                                       isolation_level::deferred, core_->config().transaction_timeout,
                                       tx_counts_, fn);
    }

    // Every count of the pool; with read_write_split, readers and the writer added together.
    [[nodiscard]] pool_stats stats() const {
        pool_stats s = core_->stats();
        if (writer_ != nullptr) add(s, writer_->stats());
        s.transactions.committed = tx_counts_.committed.load(std::memory_order_relaxed);
        s.transactions.rolled_back = tx_counts_.rolled_back.load(std::memory_order_relaxed);
        s.transactions.retried = tx_counts_.retried.load(std::memory_order_relaxed);
        s.transactions.busy_seen = tx_counts_.busy_seen.load(std::memory_order_relaxed);
        s.transactions.busy_surfaced = tx_counts_.busy_surfaced.load(std::memory_order_relaxed);
        return s;
    }

    // One round of maintenance at the pool clock's now (or `now`): retire, check, replenish.
    void maintain() { maintain(core_->clock().now()); }
    void maintain(std::chrono::steady_clock::time_point now) {
        core_->maintain(now);
        if (writer_ != nullptr) writer_->maintain(now);
    }

    // Stops maintenance, refuses new acquires, and closes every connection, waiting up to
    // close_timeout (or `timeout`) for leases. True when every connection is closed.
    bool close() { return close(core_->config().close_timeout); }
    bool close(std::chrono::nanoseconds timeout) {
        stop_maintenance();
        const auto deadline = detail::deadline_after(std::chrono::steady_clock::now(), timeout);
        bool all_closed = core_->close(timeout);
        if (writer_ != nullptr)
            all_closed = writer_->close(std::max(deadline - std::chrono::steady_clock::now(),
                                                 std::chrono::steady_clock::duration::zero())) &&
                         all_closed;
        return all_closed;
    }
    [[nodiscard]] bool closed() const { return core_->closed(); }

    [[nodiscard]] const pool_config& config() const noexcept { return core_->config(); }
    [[nodiscard]] Health& health_policy() noexcept { return core_->health(); }
    [[nodiscard]] Recycling& recycling_policy() noexcept { return core_->recycling(); }
    [[nodiscard]] Clock& clock() noexcept { return core_->clock(); }

private:
    static constexpr bool split = detail::splits_reads_and_writes<Isolation>();

    static core_type* start_core(pool_config config, Health health, Recycling recycling, Clock clock) {
        auto* core =
            new core_type(std::move(config), std::move(health), std::move(recycling), std::move(clock));
        try {
            core->warm_up();
        } catch (...) {
            core->close(std::chrono::nanoseconds::zero());
            core->orphan();
            throw;
        }
        return core;
    }

    static pool_config writer_config(pool_config config) {
        config.min_connections = 1;
        config.max_connections = 1;
        config.acquire_timeout = std::max(config.acquire_timeout, config.transaction_timeout);
        return config;
    }

    static pool_config reader_config(pool_config config) {
        config.max_connections = std::max<std::size_t>(1, config.max_connections - 1);
        config.min_connections = std::min(config.min_connections, config.max_connections);
        config.pragmas.emplace_back("query_only", "1");
        return config;
    }

    static void add(pool_stats& into, const pool_stats& more) {
        into.total += more.total;
        into.idle += more.idle;
        into.in_use += more.in_use;
        into.waiting += more.waiting;
        into.max_connections += more.max_connections;
        into.acquired += more.acquired;
        into.timeouts += more.timeouts;
        into.created += more.created;
        into.open_failures += more.open_failures;
        into.closed.aged += more.closed.aged;
        into.closed.idle += more.closed.idle;
        into.closed.unhealthy += more.closed.unhealthy;
        into.closed.uses += more.closed.uses;
        into.closed.broken += more.closed.broken;
        into.closed.shutdown += more.closed.shutdown;
        into.resets += more.resets;
        into.failed_health_checks += more.failed_health_checks;
        into.listener_errors += more.listener_errors;
        into.wait_p50 = std::max(into.wait_p50, more.wait_p50);
        into.wait_p99 = std::max(into.wait_p99, more.wait_p99);
        into.wait_max = std::max(into.wait_max, more.wait_max);
    }

    void run_maintenance() {
        std::unique_lock lock(maintenance_mutex_);
        while (!stopping_) {
            maintenance_wakeup_.wait_for(lock, core_->config().maintenance_interval,
                                         [this] { return stopping_; });
            if (stopping_) break;
            lock.unlock();
            try {
                maintain();
            } catch (...) {
                // Deliberately ignored: maintenance failures are counted in stats (open_failures);
                // the next round retries.
            }
            lock.lock();
        }
    }

    void stop_maintenance() {
        {
            std::lock_guard lock(maintenance_mutex_);
            stopping_ = true;
        }
        maintenance_wakeup_.notify_all();
        if (maintenance_.joinable()) maintenance_.join();
    }

    core_type* core_ = nullptr;   // every connection, or the readers with read_write_split
    core_type* writer_ = nullptr; // the one writer with read_write_split
    detail::transaction_counters tx_counts_;
    std::mutex maintenance_mutex_;
    std::condition_variable maintenance_wakeup_;
    bool stopping_ = false;
    std::thread maintenance_;
};

using pool = basic_pool<>;

} // namespace sqlpool
