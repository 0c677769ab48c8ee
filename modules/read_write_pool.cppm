// read_write_pool: the read/write split as a composition of two pools — one writer connection and
// a pool of read-only readers — instead of a mode of the pool core.
module;
#include "detail/gmf.hpp"
export module sqlpool:read_write_pool;
import :errors;
import :deadline;
import :sqlite;
import :config;
import :stats;
import :lease;
import :sqlite_source;
import :pool_slots;
import :pool;

namespace sqlpool::detail {

// The one writer: every write() caller queues for it, up to the longer of acquire_timeout and
// transaction_timeout (a writer may wait behind a whole transaction).
inline pool_config writer_config(pool_config config) {
    config.min_connections = 1;
    config.max_connections = 1;
    config.acquire_timeout = std::max(config.acquire_timeout, config.transaction_timeout);
    return config;
}

// Readers: max(1, max_connections - 1) connections with PRAGMA query_only, and opened read-only
// when the database is a file, which the writer has created by then. A read-only connection may
// still open a WAL database: SQLite creates the -shm and -wal files if they are missing and the
// directory is writable (https://sqlite.org/wal.html#readonly).
inline pool_config reader_config(pool_config config) {
    config.max_connections = std::max<std::size_t>(1, config.max_connections - 1);
    config.min_connections = std::min(config.min_connections, config.max_connections);
    config.pragmas.emplace_back("query_only", "1");
    if (!is_memory_path(config.database)) config.mode = open_mode::read_only;
    return config;
}

// ":memory:" names one database for both sides: resolved here once, into `config`, and kept alive
// by the connection returned (each pool would otherwise make its own).
inline std::optional<connection> shared_memory_keeper(pool_config& config) {
    std::string path = resolve_database(config.database);
    if (path == config.database) return std::nullopt;
    config.database = std::move(path);
    open_options options = config.connection_options();
    return std::optional<connection>(std::in_place, options);
}

} // namespace sqlpool::detail

export namespace sqlpool {

// Writes never contend with each other inside one process: write() and acquire_writer() share one
// writer connection, first come first served, so write() never surfaces SQLITE_BUSY caused by its
// own pool. read() and acquire() use the readers, which in WAL mode the writer never blocks. A
// reader can still take the write lock for an instant, when it catches the WAL-index header
// mid-update and re-reads it under that lock (SQLite's wal.c); the busy handler absorbs that, or
// the runner retries it when busy_timeout is 0.
// Pool is any basic_pool; both sides use its policies and the one pool_config given here.
template <class Pool = pool>
class read_write_pool {
public:
    using pool_type = Pool;
    using source_type = typename Pool::source_type;

    // Validates `config` (config_error lists every problem), opens the writer (which creates the
    // file when the mode allows), then min_connections readers.
    explicit read_write_pool(pool_config config)
        : config_(config.checked()), keeper_(detail::shared_memory_keeper(config)),
          writer_(detail::writer_config(config)), readers_(detail::reader_config(std::move(config))) {}

    read_write_pool(const read_write_pool&) = delete;
    read_write_pool& operator=(const read_write_pool&) = delete;
    read_write_pool(read_write_pool&&) = delete;
    read_write_pool& operator=(read_write_pool&&) = delete;
    ~read_write_pool() = default;

    // A reader, as basic_pool::acquire() / try_acquire().
    [[nodiscard]] lease acquire(std::source_location where = std::source_location::current()) {
        return readers_.acquire(where);
    }
    [[nodiscard]] lease acquire(std::chrono::nanoseconds timeout,
                                std::source_location where = std::source_location::current()) {
        return readers_.acquire(timeout, where);
    }
    [[nodiscard]] std::optional<lease>
    try_acquire(std::chrono::nanoseconds timeout = std::chrono::nanoseconds::zero(),
                std::source_location where = std::source_location::current()) {
        return readers_.try_acquire(timeout, where);
    }
    [[nodiscard]] lease acquire(const deadline& limit,
                                std::source_location where = std::source_location::current()) {
        return readers_.acquire(limit, where);
    }

    // The writer connection, waiting up to the longer of acquire_timeout and transaction_timeout.
    [[nodiscard]] lease acquire_writer(std::source_location where = std::source_location::current()) {
        return writer_.acquire(where);
    }
    [[nodiscard]] lease acquire_writer(const deadline& limit,
                                       std::source_location where = std::source_location::current()) {
        return writer_.acquire(limit, where);
    }

    // basic_pool::write() on the writer and basic_pool::read() on a reader.
    template <std::invocable<connection&> F>
    auto write(F&& fn, std::source_location where = std::source_location::current())
        -> std::invoke_result_t<F&, connection&> {
        return writer_.write(std::forward<F>(fn), where);
    }
    template <std::invocable<connection&> F>
    auto read(F&& fn, std::source_location where = std::source_location::current())
        -> std::invoke_result_t<F&, connection&> {
        return readers_.read(std::forward<F>(fn), where);
    }
    // The same within a deadline (see basic_pool::write(limit, fn)).
    template <std::invocable<connection&> F>
    auto write(const deadline& limit, F&& fn, std::source_location where = std::source_location::current())
        -> std::invoke_result_t<F&, connection&> {
        return writer_.write(limit, std::forward<F>(fn), where);
    }
    template <std::invocable<connection&> F>
    auto read(const deadline& limit, F&& fn, std::source_location where = std::source_location::current())
        -> std::invoke_result_t<F&, connection&> {
        return readers_.read(limit, std::forward<F>(fn), where);
    }

    // The readers' and the writer's counts added together (wait percentiles: the larger).
    [[nodiscard]] pool_stats stats() const {
        pool_stats s = readers_.stats();
        s += writer_.stats();
        return s;
    }

    void maintain() {
        readers_.maintain();
        writer_.maintain();
    }
    void maintain(std::chrono::steady_clock::time_point now) {
        readers_.maintain(now);
        writer_.maintain(now);
    }

    // basic_pool's operator controls on both sides: the writer is suspended last and resumed
    // first. True when either side changed.
    bool suspend() {
        const bool readers = readers_.suspend();
        return writer_.suspend() || readers;
    }
    bool resume() {
        const bool writer = writer_.resume();
        return readers_.resume() || writer;
    }
    [[nodiscard]] bool suspended() const { return writer_.suspended(); }
    std::size_t soft_evict() { return readers_.soft_evict() + writer_.soft_evict(); }
    // Sizes the readers as the constructor does from `min` and `max` (max - 1 readers, at least
    // one); the writer stays one connection. config_error for invalid sizes.
    std::size_t resize(std::size_t min, std::size_t max) {
        pool_config sizes = config_;
        sizes.min_connections = min;
        sizes.max_connections = max;
        (void)sizes.checked(); // config_error naming the problem
        const pool_config readers = detail::reader_config(sizes);
        return readers_.resize(readers.min_connections, readers.max_connections);
    }

    // Closes readers, then the writer, within one close_timeout (or `timeout`) for both; the
    // report covers both sides (readers' stragglers first).
    close_report close() { return close(config_.close_timeout); }
    close_report close(std::chrono::nanoseconds timeout) {
        const auto deadline = detail::deadline_after(std::chrono::steady_clock::now(), timeout);
        close_report report = readers_.close(timeout);
        const auto left = std::max(deadline - std::chrono::steady_clock::now(),
                                   std::chrono::steady_clock::duration::zero());
        close_report writer = writer_.close(left);
        report.complete = report.complete && writer.complete;
        report.interrupted += writer.interrupted;
        std::ranges::move(writer.stragglers, std::back_inserter(report.stragglers));
        return report;
    }
    // The readers' connections, then the writer's (slot numbers are per side).
    [[nodiscard]] std::vector<connection_snapshot> connections() const {
        std::vector<connection_snapshot> all = readers_.connections();
        std::ranges::move(writer_.connections(), std::back_inserter(all));
        return all;
    }
    // Both pools' leases out now, longest held first.
    [[nodiscard]] std::vector<lease_holder> holders() const {
        std::vector<lease_holder> all = readers_.holders();
        std::ranges::move(writer_.holders(), std::back_inserter(all));
        std::ranges::sort(all, std::ranges::greater{}, &lease_holder::held_for);
        return all;
    }
    [[nodiscard]] bool closed() const { return readers_.closed(); }

    // The configuration as given (each side runs with its own derived one).
    [[nodiscard]] const pool_config& config() const noexcept { return config_; }
    [[nodiscard]] Pool& readers() noexcept { return readers_; }
    [[nodiscard]] Pool& writer() noexcept { return writer_; }

private:
    pool_config config_;
    std::optional<connection> keeper_; // the in-memory database both sides share, for ":memory:"
    Pool writer_; // declared first: opened before the readers (it creates the file), closed after
    Pool readers_;
};

} // namespace sqlpool
