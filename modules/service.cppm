// database: a service over one pool with a lifecycle, schema migrations and validation, and a
// high-level read/write API. What depends on the database (SQLite's or PostgreSQL's) comes from
// database_traits<Pool::source_type>.
module;
#include "detail/gmf.hpp"
export module sqlpool:service;
import :errors;
import :deadline;
import :config;
import :stats;
import :transaction;
import :lease;
import :database_traits;
import :pool;
import :service_gate;
import :component;
import :service_health;
import :service_options;

export namespace sqlpool {

template <class Pool = pool>
class basic_database {
    using traits = database_traits<typename Pool::source_type>;

public:
    // What read() and write() hand to the caller's function: sqlpool::connection on SQLite,
    // sqlpool::postgres::connection on PostgreSQL.
    using connection_type = typename traits::connection_type;

    explicit basic_database(database_options options) : options_(std::move(options)) {
        std::vector<std::string> problems = options_.pool.validate();
        int previous = 0;
        for (const auto& m : options_.schema.migrations) {
            if (m.version <= previous)
                problems.push_back(
                    "migration versions must be positive and increasing: " + std::to_string(m.version) +
                    " (" + m.description + ") follows " + std::to_string(previous));
            previous = std::max(previous, m.version);
        }
        if (!problems.empty()) throw config_error(std::move(problems));
    }
    basic_database(const basic_database&) = delete;
    basic_database& operator=(const basic_database&) = delete;
    basic_database(basic_database&&) = delete;
    basic_database& operator=(basic_database&&) = delete;
    // Stops, then waits for calls that outlived stop()'s drain: they still use this object.
    ~basic_database() {
        try {
            stop();
        } catch (...) {
            // Deliberately ignored: a destructor must not throw; the pool still closes in its own.
        }
        gate_.wait_for_calls();
    }

    [[nodiscard]] service_state state() const { return gate_.state(); }

    // Opens the pool, creates the file when allowed, applies pending migrations and validates the
    // schema. Running already: nothing to do. While another thread's start() or stop() is under
    // way, waits for it first, so that start() returns with the service running (or throws why
    // it could not start it). On failure the service is stopped and the error says what failed.
    void start() {
        if (!gate_.begin_start()) return;
        std::shared_ptr<Pool> opened;
        try {
            opened = open_pool();
            migrate(*opened);
            validate(*opened);
            watch(*opened);
        } catch (...) {
            opened.reset();
            gate_.end_start(nullptr);
            throw;
        }
        gate_.end_start(std::move(opened));
    }

    // Refuses new calls (state_error), waits for the calls already inside, then closes the pool;
    // the drain and the close together take at most the pool's close_timeout. A call still inside
    // after that keeps the closed pool alive and meets pool_closed_error if it needs another
    // connection. While a start() or stop() is under way, waits for it first; not running:
    // nothing to do (an empty, complete report). The pool's close_report says what was still out.
    close_report stop() {
        auto [closing, deadline] = gate_.begin_stop(options_.pool.close_timeout);
        if (closing == nullptr) return {.complete = true};
        close_report report;
        try {
            const auto left = deadline - std::chrono::steady_clock::now();
            report = closing->close(std::max(left, std::chrono::steady_clock::duration::zero()));
        } catch (...) {
            closing.reset();
            gate_.end_stop();
            throw;
        }
        health_.stopped(closing->stats());
        closing.reset();
        gate_.end_stop();
        return report;
    }

    template <std::invocable<connection_type&> F>
    auto write(F&& fn, std::source_location where = std::source_location::current())
        -> std::invoke_result_t<F&, connection_type&> {
        return write(deadline{}, std::forward<F>(fn), where);
    }
    template <std::invocable<connection_type&> F>
    auto read(F&& fn, std::source_location where = std::source_location::current())
        -> std::invoke_result_t<F&, connection_type&> {
        return read(deadline{}, std::forward<F>(fn), where);
    }

    // write() and read() within a deadline (see basic_pool::write(limit, fn)).
    template <std::invocable<connection_type&> F>
    auto write(const deadline& limit, F&& fn, std::source_location where = std::source_location::current())
        -> std::invoke_result_t<F&, connection_type&> {
        detail::service_call call(gate_, "write");
        return traits::write(call.pool(), limit, std::forward<F>(fn), where);
    }
    template <std::invocable<connection_type&> F>
    auto read(const deadline& limit, F&& fn, std::source_location where = std::source_location::current())
        -> std::invoke_result_t<F&, connection_type&> {
        detail::service_call call(gate_, "read");
        return traits::read(call.pool(), limit, std::forward<F>(fn), where);
    }

    // Runs one statement through write(); returns the number of rows it changed.
    template <class... Args>
    std::int64_t exec(std::string_view sql, const Args&... args) {
        return write([&](connection_type& c) { return traits::exec(c, sql, args...); });
    }

    // All rows of a query, read in one transaction.
    template <class... Ts, class... Args>
    std::vector<std::tuple<Ts...>> query(std::string_view sql, const Args&... args) {
        return read([&](connection_type& c) { return traits::template query<Ts...>(c, sql, args...); });
    }

    // The running pool's figures; when not running, those the pool had when it stopped (zero
    // before the first start).
    [[nodiscard]] pool_stats stats() {
        if (auto p = gate_.running_pool_or_null()) return p->stats();
        return health_.final_stats();
    }

    // The probes of a sqlpool::component, answered in every state (not running: down, not ready,
    // live). Down: not running, the file deleted or replaced since start, or no connection open
    // and opens failing. Degraded: opens or health checks failed, acquires timed out, the pool
    // full with threads waiting, suspended, the WAL past wal_hard_limit or starving. Counts are
    // since the previous health() or ready() call. Not live: running on a file deleted or replaced
    // since start (a restart reopens the path and migrates what is there).
    [[nodiscard]] health_report health() { return assess().report; }
    [[nodiscard]] bool ready() { return assess().ready; }
    [[nodiscard]] bool live() const { return health_.live(state()); }

    // The pool's operator controls (see basic_pool): state_error unless running.
    bool suspend() {
        detail::service_call call(gate_, "suspend");
        return call.pool().suspend();
    }
    bool resume() {
        detail::service_call call(gate_, "resume");
        return call.pool().resume();
    }
    std::size_t soft_evict() {
        detail::service_call call(gate_, "soft_evict");
        return call.pool().soft_evict();
    }
    std::size_t resize(std::size_t min, std::size_t max) {
        detail::service_call call(gate_, "resize");
        return call.pool().resize(min, max);
    }
    [[nodiscard]] std::vector<connection_snapshot> connections() {
        detail::service_call call(gate_, "connections");
        return call.pool().connections();
    }

    // The schema version the database records (SQLite: PRAGMA user_version; PostgreSQL: the
    // sqlpool_schema table).
    [[nodiscard]] int schema_version() {
        detail::service_call call(gate_, "schema_version");
        return traits::schema_version(call.pool());
    }

    // The running pool, shared: it stays valid after stop() closes it (acquire() then throws
    // pool_closed_error). stop() does not wait for leases taken from it beyond close_timeout.
    [[nodiscard]] std::shared_ptr<Pool> underlying_pool() { return gate_.running_pool("underlying_pool"); }

private:
    detail::assessment assess() {
        const auto wal_limit =
            options_.pool.checkpoints == checkpoint_mode::managed ? options_.pool.wal_hard_limit : 0;
        return health_.assess(
            state(),
            [this]() -> std::optional<pool_stats> {
                if (auto p = gate_.running_pool_or_null()) return p->stats();
                return std::nullopt;
            },
            wal_limit);
    }

    // What health() compares with: the file the pool opened, and its figures after migrating.
    void watch(Pool& p) { health_.started(traits::watched(p), p.stats()); }

    std::shared_ptr<Pool> open_pool() {
        return std::make_shared<Pool>(traits::prepare(options_.pool, options_.create_if_missing));
    }

    void migrate(Pool& p) {
        traits::migrate(p, options_.schema.migrations, traits::describe(options_.pool.database));
    }

    void validate(Pool& p) {
        const auto missing = traits::missing(p, options_.schema.tables);
        if (missing.empty()) return;
        std::string text = "schema of '" + std::string(traits::describe(options_.pool.database)) + "' lacks ";
        for (std::size_t i = 0; i < missing.size(); ++i) text += (i == 0 ? "" : ", ") + missing[i];
        throw schema_error(text);
    }

    database_options options_;
    detail::service_gate<Pool> gate_;
    detail::health_monitor health_;
};

using database = basic_database<>;

} // namespace sqlpool
