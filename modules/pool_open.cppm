// pool_open: how a pool opens sessions — from its session source, into the file generation they
// belong to, the warm-up and growing back to min_connections with a backoff — as a mixin of the
// core.
module;
#include "detail/gmf.hpp"
export module sqlpool:pool_open;
import :errors;
import :session;
import :config;
import :connection_info;
import :stats;
import :events;
import :lease;
import :file_generation;
import :pool_slots;
import :pool_waiters;

namespace sqlpool::detail {

// Core derives from pool_open<Core, Source> and befriends it; it names the members used here.
template <class Core, session_source<pool_config> Source>
class pool_open {
    using session_type = typename Source::session_type;
    using slot = basic_slot<session_type>;
    using slot_ptr = std::unique_ptr<slot>;

public:
    // Opens min_connections; a database that cannot be opened fails here, clearly. With
    // min_connections = 0 nothing opens until the first acquire (which then fails, as clearly).
    void warm_up() {
        Core& core = self();
        std::vector<std::size_t> reserved;
        reserved.reserve(core.config_.min_connections);
        for (std::size_t i = 0; i < core.config_.min_connections; ++i)
            reserved.push_back(core.slots_.reserve());
        std::size_t opened = 0;
        try {
            for (; opened < reserved.size(); ++opened) core.slots_.install(reserved[opened], open_slot());
        } catch (...) {
            for (std::size_t k = 0; k < reserved.size(); ++k) {
                if (k < opened)
                    core.retire_connection(std::move(core.slots_.at(reserved[k]).held),
                                           retire_reason::shutdown);
                (void)core.slots_.vacate(reserved[k]);
            }
            throw;
        }
        for (const std::size_t i : reserved) core.slots_.make_idle(i);
    }

private:
    friend Core;
    // `config` was validated by the core.
    explicit pool_open(const pool_config& config) : source_(config) {}

public:
    // The source's figures (e.g. its checkpoints) into `stats`, for stats().
    void report_source(pool_stats& stats) const noexcept { source_.report(stats); }

protected:
    void release_source() noexcept { source_.close(); }

    // Opens a connection for slot `i`, which this thread reserved; frees the slot if it fails.
    slot_ptr open_reserved(std::size_t i) {
        try {
            return open_slot();
        } catch (...) {
            Core& core = self();
            {
                typename Core::lock_type lock(core.mutex_);
                ++core.counts_.open_failures;
            }
            core.free_slot(i);
            throw;
        }
    }

    // A connection saw SQLITE_READONLY_DBMOVED: the current file's generation ends (once).
    void file_moved(const slot& s) noexcept {
        Core& core = self();
        typename Core::lock_type lock(core.mutex_);
        if (file_generation::is_current(s.generation)) (void)end_generation(lock, retire_reason::broken);
    }

    // Opens connections up to min_connections, backing off after a failure.
    template <class Lock>
    void replenish(Lock& lock, std::chrono::steady_clock::time_point now) {
        Core& core = self();
        const std::size_t min = core.min_connections();
        const std::size_t total = core.slots_.counts().total;
        if (core.closed_.load(std::memory_order_relaxed) || total >= min || now < next_open_attempt_) return;
        std::vector<std::size_t> reserved;
        for (std::size_t i = total; i < min; ++i)
            if (const std::size_t got = core.slots_.reserve(); got != Core::none) reserved.push_back(got);
        lock.unlock();
        std::vector<std::size_t> opened;
        std::size_t failures = 0;
        for (const std::size_t i : reserved) {
            try {
                core.slots_.install(i, open_slot());
                opened.push_back(i);
            } catch (...) {
                ++failures;
                core.free_slot(i);
            }
        }
        lock.lock();
        core.counts_.open_failures += failures;
        core.settle(lock, std::move(opened)); // closes them when close() ran meanwhile
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

    // Opens and registers a connection.
    slot_ptr open_slot() {
        Core& core = self();
        auto generation = file_generation_for_open();
        auto s = std::make_unique<slot>(
            slot{std::move(generation), source_.open(Core::isolation_type::default_level), {}, 0});
        const auto now = core.clock_.now();
        s->info.created_at = s->info.last_used_at = s->info.last_checked_at = now;
        s->info.health = health_status::healthy;
        const session_identity opened = s->conn.identity();
        s->info.file_device = opened.domain;
        s->info.file_inode = opened.object;
        {
            typename Core::lock_type lock(core.mutex_);
            if (file_generation::is_current(s->generation)) {
                files_.opened(opened);
                source_.opened(s->conn);
            }
            s->info.id = ++core.counts_.created;
            s->info.age_jitter = std::uniform_real_distribution<double>(0.0, 1.0)(rng_);
        }
        core.notify([&](pool_listener& listener) { listener.on_connect(s->info); });
        return s;
    }

protected:
    // The database file was deleted or replaced (`why` = broken): every connection opened so far
    // has the old file open. Or soft_evict() ran (`why` = evicted). Either way idle connections
    // close now, leased ones when they come back (see file_generation). Returns how many closed now.
    template <class Lock>
    std::size_t end_generation(Lock& lock, retire_reason why) {
        Core& core = self();
        if (why == retire_reason::evicted)
            files_.evict();
        else
            files_.end();
        const std::vector<std::size_t> stale =
            core.take_idle_if([](const auto& s) { return !file_generation::is_current(s.generation); });
        if (stale.empty()) return 0;
        lock.unlock();
        for (const std::size_t i : stale) core.retire(i, why);
        lock.lock();
        return stale.size();
    }

private:
    // Before a connection opens: when the file at the path is another than the current
    // generation's, ends that generation, then waits (up to acquire_timeout) until every
    // connection to the old file has closed. Returns the token for the new connection.
    file_generation::token file_generation_for_open() {
        Core& core = self();
        const session_identity at_path = source_.identity_now();
        const auto deadline = deadline_after(std::chrono::steady_clock::now(), core.config_.acquire_timeout);
        typename Core::lock_type lock(core.mutex_);
        if (files_.changed(at_path)) (void)end_generation(lock, retire_reason::broken);
        while (!files_.ended_closed()) {
            if (std::chrono::steady_clock::now() >= deadline)
                throw database_moved_error("the database '" + std::string(source_.describe()) +
                                               "' was deleted or replaced, and leases on the old file "
                                               "were still out after acquire_timeout: return them first",
                                           "");
            lock.unlock();
            std::this_thread::sleep_for(std::chrono::milliseconds(1)); // rare: only after a move
            lock.lock();
        }
        return files_.current();
    }

    Source source_;
    file_generation files_; // under the core's mutex
    std::mt19937_64 rng_{std::random_device{}()};
    std::chrono::steady_clock::time_point next_open_attempt_;
    std::chrono::milliseconds open_backoff_{};
};

} // namespace sqlpool::detail
