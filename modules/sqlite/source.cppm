// sqlite_source: where a SQLite pool's connections come from — the database path resolved once
// (":memory:" becomes one named in-memory database the pool shares), the connection options, the
// config's on_connect, and the file at the path now. The session source of :session for
// sqlpool::connection; the pool core knows none of this.
module;
#include "../detail/gmf.hpp"
export module sqlpool:sqlite_source;
import :errors;
import :session;
import :open_options;
import :connection;
import :config;
import :stats;
import :reader_gate;
import :checkpointer;
import :lease;

namespace sqlpool::detail {

inline std::atomic<std::uint64_t> memory_database_counter{0};

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

export namespace sqlpool {

// The session source of a SQLite pool (see session_source in :session). A pool calls opened()
// under its lock; open() and identity_now() run outside it, on any thread.
class sqlite_source {
public:
    using session_type = connection;

    // `config` was validated by the pool.
    explicit sqlite_source(const pool_config& config)
        : options_(config.connection_options()), on_connect_(config.on_connect), database_(config.database) {
        options_.path = detail::resolve_database(config.database);
        if (options_.path != config.database) keeper_.emplace(options_); // keeps the in-memory database alive
        if (is_memory_path(options_.path)) return;
        manage_checkpoints(config);
        optimize_ = config.optimize && config.mode != open_mode::read_only;
        if (optimize_) configure_unless_set("analysis_limit", "400");
    }
    sqlite_source(const sqlite_source&) = delete;
    sqlite_source& operator=(const sqlite_source&) = delete;
    sqlite_source(sqlite_source&&) = delete;
    sqlite_source& operator=(sqlite_source&&) = delete;
    ~sqlite_source() = default;

    // A new connection with `level` as its default; what the config's on_connect sets up is the
    // session every borrower gets back.
    [[nodiscard]] connection open(isolation_level level) const {
        connection conn(options_);
        conn.set_default_isolation(level);
        run_on_connect(conn);
        if (optimize_) {
            // Upkeep, not the caller's work: a failure (a busy database, say) waits for the close.
            (void)sqlite3_exec(conn.core().db(), "PRAGMA optimize=0x10002", nullptr, nullptr, nullptr);
            conn.core().optimize_on_close();
        }
        conn.accept_session_state();
        if (gate_) conn.core().set_reader_gate(gate_);
        if (checkpointer_) checkpointer_->watch(conn.core().db());
        return conn;
    }

    // The file at the path now (a stat, before a connection opens; {0, 0} before the first
    // connection named its file, and for in-memory databases).
    [[nodiscard]] session_identity identity_now() const noexcept {
        std::string file;
        try {
            const std::lock_guard lock(file_mutex_);
            file = file_;
        } catch (...) {
            return {}; // no memory for the copy: nothing to compare, as before the first open
        }
        struct stat st{};
        if (file.empty() || ::stat(file.c_str(), &st) != 0) return {};
        return {static_cast<std::uint64_t>(st.st_dev), static_cast<std::uint64_t>(st.st_ino)};
    }

    // A connection to a file names it as SQLite resolved it.
    void opened(const connection& conn) {
        if (!conn.identity().known()) return;
        const char* name = conn.filename();
        const std::lock_guard lock(file_mutex_);
        if (file_ != name) file_ = name;
    }

    void close() noexcept {
        if (checkpointer_) checkpointer_->stop();
        keeper_.reset();
    }
    // The checkpoint manager's figures, when it runs.
    void report(pool_stats& stats) const noexcept {
        if (!checkpointer_) return;
        stats.wal = checkpointer_->counts();
        stats.listener_errors += checkpointer_->listener_errors();
    }

    [[nodiscard]] const std::string& describe() const noexcept { return database_; }

private:
    // What checkpoints need on a file database: every pool on the file shares its reader gate;
    // `external` turns SQLite's automatic checkpoints off; `managed` starts a checkpointer in a
    // pool that writes, and sets journal_size_limit (unless configured) so that a reset WAL gives
    // its disk space back (https://sqlite.org/pragma.html#pragma_journal_size_limit). Without
    // background maintenance (no threads of the pool's own) `managed` leaves it to SQLite.
    void manage_checkpoints(const pool_config& config) {
        gate_ = detail::gate_for(options_.path);
        if (config.checkpoints == checkpoint_mode::external)
            options_.pragmas.emplace_back("wal_autocheckpoint", "0");
        if (config.checkpoints != checkpoint_mode::managed || !config.background_maintenance) return;
        configure_unless_set("journal_size_limit", std::to_string(config.wal_soft_limit));
        if (config.mode == open_mode::read_only) return;
        checkpointer_ = std::make_unique<detail::checkpointer>(
            options_,
            detail::checkpoint_limits{.soft = config.wal_soft_limit,
                                      .hard = config.wal_hard_limit,
                                      .reader_gap = config.reader_gap,
                                      .read_limit = config.read_transaction_limit,
                                      .interval = config.maintenance_interval},
            gate_, config.listener.get());
    }

    // Adds pragma `name` before the configured ones, unless one of them sets it.
    void configure_unless_set(const std::string& name, std::string value) {
        if (std::ranges::find(options_.pragmas, name, [](const auto& p) { return p.first; }) ==
            options_.pragmas.end())
            options_.pragmas.insert(options_.pragmas.begin(), {name, std::move(value)});
    }

    // The user's on_connect; what it throws reaches the caller as a sqlpool::error.
    void run_on_connect(connection& conn) const {
        if (!on_connect_) return;
        try {
            on_connect_(conn);
        } catch (const error&) {
            throw;
        } catch (...) {
            std::throw_with_nested(hook_error("on_connect failed on a new connection to '" + database_ +
                                              "' (the original exception is nested)"));
        }
    }

    open_options options_;
    std::function<void(connection&)> on_connect_;
    std::string database_;          // as configured, for messages
    mutable std::mutex file_mutex_; // identity_now() runs outside the pool's lock
    std::string file_;              // the main database file as connections resolved it
    std::optional<connection> keeper_;
    std::shared_ptr<detail::reader_gate> gate_;          // file databases
    std::unique_ptr<detail::checkpointer> checkpointer_; // managed checkpoints in a writing pool
    bool optimize_ = false;
};

// Exclusive use of one pooled SQLite connection (see basic_lease).
using lease = basic_lease<connection>;

} // namespace sqlpool
