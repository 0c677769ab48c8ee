// pool_open: how a pool opens connections — where they connect, the file generation they belong
// to, on_connect, the warm-up and growing back to min_connections with a backoff — as a mixin of
// the core.
module;
#include "detail/gmf.hpp"
export module sqlpool:pool_open;
import :errors;
import :sqlite;
import :config;
import :connection_info;
import :events;
import :lease;
import :file_generation;
import :pool_slots;

namespace sqlpool::detail {

// Core derives from pool_open<Core> and befriends it; it names the members used here.
template <class Core>
class pool_open {
public:
    // Opens min_connections; a database that cannot be opened fails here, clearly. With
    // min_connections = 0 nothing opens until the first acquire (which then fails, as clearly).
    void warm_up() {
        Core& core = self();
        std::vector<slot_ptr> opened;
        try {
            for (std::size_t i = 0; i < core.config_.min_connections; ++i) opened.push_back(open_slot());
        } catch (...) {
            {
                typename Core::lock_type lock(core.mutex_);
                core.counts_.closed.add(retire_reason::shutdown, opened.size());
            }
            for (auto& s : opened) core.retire_event(s->info, retire_reason::shutdown);
            throw;
        }
        typename Core::lock_type lock(core.mutex_);
        for (auto& s : opened) core.slots_.add_opened(std::move(s));
    }

protected:
    pool_open() = default;

    // Where connections connect (after the core validated its config).
    void prepare(const pool_config& config) {
        options_ = config.connection_options();
        options_.path = resolve_database(config.database);
        if (options_.path != config.database) keeper_.emplace(options_); // keeps the in-memory database alive
    }
    void release_keeper() noexcept { keeper_.reset(); }

    // Opens a connection for capacity this thread reserved; gives the capacity up if it fails.
    slot_ptr open_reserved(bool leased) {
        try {
            return open_slot(leased);
        } catch (...) {
            Core& core = self();
            typename Core::lock_type lock(core.mutex_);
            ++core.counts_.open_failures;
            core.slots_.free_capacity();
            throw;
        }
    }

    // A connection to a file that moved retires; READONLY_DBMOVED ends the current file's generation.
    template <class Lock>
    retire_reason file_verdict(Lock& lock, const slot& s, retire_reason reason) {
        if (s.conn.broken_code() == SQLITE_READONLY_DBMOVED && files_.is_current(s.generation)) [[unlikely]]
            end_file_generation(lock);
        return files_.is_current(s.generation) ? reason : retire_reason::broken;
    }

    // Opens connections up to min_connections, backing off after a failure.
    template <class Lock>
    void replenish(Lock& lock, std::chrono::steady_clock::time_point now) {
        Core& core = self();
        const std::size_t min = core.config_.min_connections;
        if (core.slots_.closed() || core.slots_.total() >= min || now < next_open_attempt_) return;
        const std::size_t deficit = min - core.slots_.total();
        core.slots_.reserve_many(deficit);
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
        for (std::size_t i = 0; i < failures; ++i) core.slots_.free_capacity();
        core.counts_.open_failures += failures;
        if (core.slots_.closed()) { // close() ran while these were opening
            core.close_slots(lock, std::move(opened), retire_reason::shutdown);
            return;
        }
        for (auto& s : opened) core.slots_.put_back(std::move(s));
        back_off(failures != 0, now);
    }

private:
    Core& self() noexcept { return static_cast<Core&>(*this); }

    void back_off(bool failed, std::chrono::steady_clock::time_point now) {
        if (!failed) {
            open_backoff_ = {};
            return;
        }
        open_backoff_ = std::min<std::chrono::milliseconds>(
            std::max(open_backoff_ * 2, std::chrono::milliseconds(100)), std::chrono::milliseconds(30'000));
        next_open_attempt_ = now + open_backoff_;
    }

    // Opens and registers a connection; `leased` counts it as acquired.
    slot_ptr open_slot(bool leased = false) {
        Core& core = self();
        auto generation = file_generation_for_open();
        auto s = std::make_unique<slot>(slot{std::move(generation), connection(options_), {}});
        const auto now = core.clock_.now();
        s->info.created_at = s->info.last_used_at = s->info.last_checked_at = now;
        s->info.health = health_status::healthy;
        s->info.file_device = s->conn.file_device();
        s->info.file_inode = s->conn.file_inode();
        s->conn.set_default_isolation(Core::isolation_type::default_level);
        run_on_connect(s->conn);
        s->conn.accept_session_state(); // what on_connect set up is the configured session
        const file_key opened{s->info.file_device, s->info.file_inode};
        {
            typename Core::lock_type lock(core.mutex_);
            if (files_.is_current(s->generation)) files_.opened(s->conn.filename(), opened);
            s->info.id = ++core.counts_.created;
            if (leased) ++core.counts_.acquired;
            s->info.age_jitter = std::uniform_real_distribution<double>(0.0, 1.0)(rng_);
        }
        core.notify([&](pool_listener& listener) { listener.on_connect(s->info); });
        return s;
    }

    // The user's on_connect; what it throws reaches the caller as a sqlpool::error.
    void run_on_connect(connection& conn) {
        const pool_config& config = self().config_;
        if (!config.on_connect) return;
        try {
            config.on_connect(conn);
        } catch (const error&) {
            throw;
        } catch (...) {
            std::throw_with_nested(hook_error("on_connect failed on a new connection to '" + config.database +
                                              "' (the original exception is nested)"));
        }
    }

    // The database file was deleted or replaced: every connection opened so far has the old file
    // open. Idle ones close now, leased ones when they come back (see file_generation).
    template <class Lock>
    void end_file_generation(Lock& lock) {
        Core& core = self();
        files_.end();
        std::vector<slot_ptr> stale =
            core.slots_.take_idle_if([this](const slot& s) { return !files_.is_current(s.generation); });
        if (!stale.empty()) core.close_slots(lock, std::move(stale), retire_reason::broken);
    }

    // Before a connection opens: when the file at the path is another than the current
    // generation's, ends that generation, then waits (up to acquire_timeout) until every
    // connection to the old file has closed. Returns the token for the new connection.
    std::shared_ptr<const int> file_generation_for_open() {
        Core& core = self();
        const file_key at_path = files_.key_at_path();
        const auto deadline = deadline_after(std::chrono::steady_clock::now(), core.config_.acquire_timeout);
        typename Core::lock_type lock(core.mutex_);
        if (files_.changed(at_path)) end_file_generation(lock);
        while (!files_.ended_closed()) {
            if (std::chrono::steady_clock::now() >= deadline)
                throw database_moved_error("the database file '" + core.config_.database +
                                               "' was deleted or replaced, and leases on the old file "
                                               "were still out after acquire_timeout: return them first",
                                           "");
            lock.unlock();
            std::this_thread::sleep_for(std::chrono::milliseconds(1)); // rare: only after a move
            lock.lock();
        }
        return files_.current();
    }

    open_options options_;
    std::optional<connection> keeper_;
    file_generation files_; // under the core's mutex
    std::mt19937_64 rng_{std::random_device{}()};
    std::chrono::steady_clock::time_point next_open_attempt_;
    std::chrono::milliseconds open_backoff_{};
};

} // namespace sqlpool::detail
