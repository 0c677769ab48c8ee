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
import :file_generation;
import :pool_slots;
import :pool_return;
import :locking;
import :queue;
import :health;
import :recycling;
import :isolation;
import :transaction;

namespace sqlpool {

// The pool's shared state. Heap-allocated and owned by basic_pool until the pool is destroyed;
// if leases are still out then, the last one to come back deletes it.
template <class Locking, class Health, class Recycling, class Isolation, class Queue, class Clock>
class basic_pool_core final : public detail::lease_owner {
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
          clock_(std::move(clock)), options_(config_.connection_options()), rng_(std::random_device{}()) {
        config_.check();
        options_.path = detail::resolve_database(config_.database);
        if (options_.path != config_.database)
            keeper_.emplace(options_); // keeps the shared in-memory database alive
    }

    // Opens min_connections; a database that cannot be opened fails here, clearly. With
    // min_connections = 0 nothing opens until the first acquire (which then fails, as clearly).
    void warm_up() {
        std::vector<slot_ptr> opened;
        try {
            for (std::size_t i = 0; i < config_.min_connections; ++i) opened.push_back(open_slot());
        } catch (...) {
            {
                lock_type lock(mutex_);
                closed_counts_.add(retire_reason::shutdown, opened.size());
            }
            for (auto& s : opened) retire_event(s->info, retire_reason::shutdown);
            throw;
        }
        lock_type lock(mutex_);
        for (auto& s : opened) slots_.add_opened(std::move(s));
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
                ++timeouts_;
                return timed_out(lock, {}, throw_on_timeout, " (single_thread locking never waits)");
            } else {
                if (!wait_for_turn(lock, got, timeout)) {
                    ++timeouts_;
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
        if (verdict.reset) ++resets_;
        if (verdict.reason == retire_reason::unhealthy) ++failed_health_checks_;
        const retire_reason reason = file_verdict(lock, *leased, verdict.reason);
        typename slots_type::wake_later wake; // woken once the pool is unlocked
        if (reason == retire_reason::none && !slots_.closed())
            slots_.put_back(std::move(leased), &wake);
        else
            retire_returned(lock, std::move(leased), reason);
        finish_if_orphaned(lock); // may unlock and delete the pool: `wake` does not depend on it
        if (lock.owns_lock()) lock.unlock();
        if (wake) wake->wakeup.notify_one();
    }

    // Retires aged, idle (above min_connections), over-used and unhealthy idle connections, runs
    // the periodic health checks that are due, and opens connections up to min_connections.
    void maintain(steady::time_point now) {
        lock_type lock(mutex_);
        if (slots_.closed()) return;
        auto [retiring, checking] = sort_idle(now);
        lock.unlock();
        std::vector<slot_ptr> failed = check_periodic(checking, now);
        for (auto& [s, reason] : retiring) {
            retire_event(s->info, reason);
            s.reset();
        }
        for (auto& s : failed) {
            retire_event(s->info, retire_reason::unhealthy);
            s.reset();
        }
        lock.lock();
        for (const auto& entry : retiring) {
            closed_counts_.add(entry.second);
            slots_.free_capacity();
        }
        for (std::size_t i = 0; i < failed.size(); ++i) {
            closed_counts_.add(retire_reason::unhealthy);
            ++failed_health_checks_;
            slots_.free_capacity();
        }
        settle_checked(lock, std::move(checking), now);
    }

    // Refuses new acquires, wakes every waiter, closes idle connections and waits up to
    // `timeout` for leased ones to come back. True when every connection is closed.
    bool close(std::chrono::nanoseconds timeout) {
        lock_type lock(mutex_);
        const bool first_close = !slots_.closed();
        std::vector<slot_ptr> closing = slots_.close();
        closed_counts_.add(retire_reason::shutdown, closing.size());
        lock.unlock();
        if (first_close) notify([](pool_listener& listener) { listener.on_close(); });
        for (auto& s : closing) retire_event(s->info, retire_reason::shutdown);
        closing.clear();
        keeper_.reset();
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
    detail::listener_sink listener_sink() noexcept { return {config_.listener.get(), &listener_errors_}; }
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
        if (!got.open_new) ++acquired_; // a new connection counts once it opened
        const auto wait = got.waited ? steady::now() - got.started : std::chrono::nanoseconds::zero();
        waits_.record(wait);
        lock.unlock();
        if (got.open_new) return hand_out(open_reserved(true), wait);
        if (detail::checkout_healthy(health_, clock_, *got.chosen))
            return hand_out(std::move(got.chosen), wait);
        retire_unhealthy(std::move(got.chosen)); // its capacity stays reserved for the replacement
        return hand_out(open_reserved(true), wait);
    }

    void retire_unhealthy(slot_ptr chosen) {
        notify([&](pool_listener& listener) {
            listener.on_health_check_failed(chosen->info, check_point::on_checkout);
        });
        retire_event(chosen->info, retire_reason::unhealthy);
        chosen.reset();
        lock_type lock(mutex_);
        closed_counts_.add(retire_reason::unhealthy);
        ++failed_health_checks_;
        --acquired_; // counted again when the replacement opens
    }

    // A connection to a file that moved retires; READONLY_DBMOVED ends the current file's generation.
    retire_reason file_verdict(lock_type& lock, const detail::slot& s, retire_reason reason) {
        if (s.conn.broken_code() == SQLITE_READONLY_DBMOVED && files_.is_current(s.generation)) [[unlikely]]
            end_file_generation(lock);
        return files_.is_current(s.generation) ? reason : retire_reason::broken;
    }

    // Closes a returned connection outside the lock and frees its capacity.
    void retire_returned(lock_type& lock, slot_ptr s, retire_reason reason) {
        if (slots_.closed()) reason = retire_reason::shutdown;
        closed_counts_.add(reason);
        lock.unlock();
        retire_event(s->info, reason);
        s.reset();
        lock.lock();
        slots_.free_capacity();
    }

    struct idle_sort {
        std::vector<std::pair<slot_ptr, retire_reason>> retiring;
        std::vector<slot_ptr> checking; // due for a periodic health check
    };

    // Takes out of the idle set (under the lock) what retires now and what is due for a check.
    idle_sort sort_idle(steady::time_point now) {
        std::size_t staying = slots_.total();
        std::vector<retire_reason> reasons; // in the order take_idle_if takes them
        std::vector<slot_ptr> taken = slots_.take_idle_if([&](const detail::slot& s) {
            const retire_reason reason = recycling_.retire(
                s.info, {.now = now, .config = config_, .may_shrink = staying > config_.min_connections});
            const bool check_due = includes(Health::when, check_point::periodic) &&
                                   now - s.info.last_checked_at >= config_.health_check_interval;
            if (reason == retire_reason::none && !check_due) return false;
            if (reason != retire_reason::none) --staying;
            reasons.push_back(reason);
            return true;
        });
        idle_sort out;
        for (std::size_t i = 0; i < taken.size(); ++i) {
            if (reasons[i] != retire_reason::none)
                out.retiring.emplace_back(std::move(taken[i]), reasons[i]);
            else
                out.checking.push_back(std::move(taken[i]));
        }
        return out;
    }

    // Runs the periodic checks outside the lock; moves the failed ones out of `checking`.
    std::vector<slot_ptr> check_periodic(std::vector<slot_ptr>& checking, steady::time_point now) {
        std::vector<slot_ptr> failed;
        for (auto& s : checking) {
            s->info.last_checked_at = now;
            if (detail::run_check(health_, *s, check_point::periodic) == health_status::unhealthy) {
                notify([&](pool_listener& listener) {
                    listener.on_health_check_failed(s->info, check_point::periodic);
                });
                failed.push_back(std::move(s));
            }
        }
        return failed;
    }

    // The checked connections go back (or close, when close() ran meanwhile); then the pool grows
    // to min_connections.
    void settle_checked(lock_type& lock, std::vector<slot_ptr> checking, steady::time_point now) {
        std::erase(checking, nullptr);
        if (slots_.closed()) {
            close_slots(lock, std::move(checking), retire_reason::shutdown);
            return;
        }
        for (auto& s : checking) slots_.put_back(std::move(s));
        replenish(lock, now);
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

    // Closes reserved connections outside the lock and frees their capacity.
    void close_slots(lock_type& lock, std::vector<slot_ptr> slots, retire_reason reason) {
        closed_counts_.add(reason, slots.size());
        const std::size_t count = slots.size();
        lock.unlock();
        for (auto& s : slots) retire_event(s->info, reason);
        slots.clear();
        lock.lock();
        for (std::size_t i = 0; i < count; ++i) slots_.free_capacity();
    }

    // The database file was deleted or replaced: every connection opened so far has the old file
    // open. Idle ones close now, leased ones when they come back (see file_generation).
    void end_file_generation(lock_type& lock) {
        files_.end();
        std::vector<slot_ptr> stale =
            slots_.take_idle_if([this](const detail::slot& s) { return !files_.is_current(s.generation); });
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

    // Opens a connection for capacity this thread reserved; gives the capacity up if it fails.
    slot_ptr open_reserved(bool leased) {
        try {
            return open_slot(leased);
        } catch (...) {
            lock_type lock(mutex_);
            ++open_failures_;
            slots_.free_capacity();
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

    // Opens connections up to min_connections, backing off after a failure.
    void replenish(lock_type& lock, steady::time_point now) {
        if (slots_.closed() || slots_.total() >= config_.min_connections || now < next_open_attempt_) return;
        const std::size_t deficit = config_.min_connections - slots_.total();
        slots_.reserve_many(deficit);
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
        for (std::size_t i = 0; i < failures; ++i) slots_.free_capacity();
        open_failures_ += failures;
        if (slots_.closed()) { // close() ran while these were opening
            close_slots(lock, std::move(opened), retire_reason::shutdown);
            return;
        }
        for (auto& s : opened) slots_.put_back(std::move(s));
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
        s.total = slots_.total();
        s.idle = slots_.idle();
        s.in_use = slots_.in_use();
        s.waiting = slots_.waiting();
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
    slots_type slots_; // under mutex_
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
