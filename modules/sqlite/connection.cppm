// connection: a move-only RAII owner of one sqlite3 handle, opened with safe defaults.
module;
#include "../detail/gmf.hpp"
export module sqlpool:connection;
import :errors;
import :names;
import :session;
import :values;
import :open_options;
import :file_watch;
import :statement;
import :statement_cache;
import :query_range;
import :deadline;
import :session_board;

namespace sqlpool::detail {

// True when the temp schema holds any object (a table, index, view or trigger), or cannot be read.
[[nodiscard]] bool has_temp_objects(sqlite3* db) noexcept;

} // namespace sqlpool::detail

export namespace sqlpool {
class connection;
} // namespace sqlpool

namespace sqlpool::detail {

// The handle for sqlpool's own upkeep (backups), which leaves the connection's state as it found
// it; unlike native_handle(), it does not mark the connection for a full reset on every return.
[[nodiscard]] sqlite3* upkeep_handle(const connection& conn);

} // namespace sqlpool::detail

export namespace sqlpool {

class transaction;
class sqlite_source;

// One SQLite connection. Used by one thread at a time: it is opened with SQLITE_OPEN_NOMUTEX
// ("multi-thread" mode, https://sqlite.org/threadsafe.html), and the pool guarantees exclusivity.
// It models `session` (:session) for the pool core.
class connection {
public:
    using level_type = isolation_level;

    explicit connection(open_options options);
    explicit connection(std::string path) : connection(open_options{.path = std::move(path)}) {}
    connection(const connection&) = delete;
    connection& operator=(const connection&) = delete;
    connection(connection&&) noexcept = default;
    connection& operator=(connection&&) noexcept = default;
    ~connection() = default;

    // Runs `sql`. Without arguments it may hold several statements (a script); with arguments it
    // must be one statement, and the arguments bind to its parameters in order.
    template <bindable... Args>
    void exec(std::string_view sql, const Args&... args) {
        bool is_script = false;
        statement stmt = core().checkout(sql, is_script);
        if (is_script) {
            if constexpr (sizeof...(Args) != 0)
                throw misuse_error(
                    "exec() with arguments takes one statement, got several [sql: " + std::string(sql) + "]");
            run_script(sql);
            return;
        }
        if (!stmt) {
            if constexpr (sizeof...(Args) != 0)
                throw misuse_error("exec() got arguments but no statement [sql: " + std::string(sql) + "]");
            return;
        }
        stmt.bind_all(args...);
        while (stmt.step()) {
        }
    }

    // Runs one statement once per row of `rows` (any input range: a container, a std::ranges or a
    // range-v3 view) whose elements bind to its parameters in order. All rows or none: they run
    // inside a savepoint, rolled back when one fails (the error propagates). Returns the number of
    // rows the statement changed in all.
    template <::ranges::input_range Rows>
        requires bindable_row<::ranges::range_reference_t<Rows>>
    std::int64_t exec_many(std::string_view sql, Rows&& rows);

    // A prepared statement for one SQL statement, from this connection's statement cache.
    [[nodiscard]] statement prepare(std::string_view sql);

    // The rows of a query as an input range of std::tuple<Ts...>; composes with range-v3 and
    // std::ranges views. The number of Ts must equal the number of result columns.
    template <column_type... Ts, bindable... Args>
    [[nodiscard]] query_range<Ts...> query(std::string_view sql, const Args&... args);

    // The first row, or std::nullopt when there is none.
    template <column_type... Ts, bindable... Args>
    [[nodiscard]] std::optional<std::tuple<Ts...>> query_one(std::string_view sql, const Args&... args);

    // The single column of the first row; an error when the query returns no row.
    template <column_type T, bindable... Args>
    [[nodiscard]] T query_value(std::string_view sql, const Args&... args) {
        statement stmt = prepare_query(sql, 1, args...);
        if (!stmt.step()) throw error("query returned no row [sql: " + std::string(sql) + "]");
        detail::check_columns(stmt, 1, sql);
        return stmt.column<T>(0);
    }

    // BEGIN a transaction (https://sqlite.org/lang_transaction.html); without a level, the
    // connection's default_isolation() (a pool sets it from its isolation policy). The transaction
    // must not outlive the connection, nor the lease it came from.
    [[nodiscard]] transaction begin();
    [[nodiscard]] transaction begin(isolation_level level);
    [[nodiscard]] isolation_level default_isolation() const noexcept { return default_isolation_; }
    inline void set_default_isolation(isolation_level level) noexcept { default_isolation_ = level; }

    // True when a PRAGMA that sets a value ran since the configured settings were applied (the
    // pool restores them when the connection comes back); restore_settings() applies them again.
    [[nodiscard]] bool settings_changed() const noexcept;
    void restore_settings();
    // True when a statement left session state restore_settings() cannot undo (see
    // connection_core::session_taints) since the connection opened or accept_session_state().
    [[nodiscard]] bool session_tainted() const noexcept;
    // Takes the session as it is now as the configured one (after a pool's on_connect, say):
    // restore_settings() then restores the settings as they are now.
    void accept_session_state();

    [[nodiscard]] std::int64_t changes() const;
    [[nodiscard]] std::int64_t last_insert_rowid() const;
    // True while a transaction is open (SQLite is not in autocommit mode).
    [[nodiscard]] bool in_transaction() const;
    // Makes the running statement fail with SQLITE_INTERRUPT. Safe to call from another thread.
    void interrupt() noexcept;
    // Bounds what runs on this connection from now on by `limit` (a pool sets it for a call with
    // a deadline): no statement starts after it, one still running is interrupted, and waits for
    // locks end at it (besides busy_timeout) — each with timeout_error, or cancelled_error when
    // its stop_token was asked to stop. A deadline that cannot pass clears it; a pool's reset on
    // return does too.
    void set_deadline(const deadline& limit) noexcept;
    // The pool's board for this connection (see session_board): a statement that runs for a
    // while (over a thousand virtual machine instructions, or a wait for a lock under a deadline)
    // is shown there until it ends, and interrupted (pool_closed_error) on the board's order.
    void attach(session_board& board) noexcept {
        if (core_) core_->attach(board);
    }
    // Makes the connection clean for the next borrower: resets statements mid-step, rolls back,
    // restores changed settings. `retire` when it is broken or left state that cannot be undone
    // (a temporary object, an attached database, a setting the pool did not configure). Nothing
    // runs when nothing ran since the last reset.
    inline reset_verdict reset_for_reuse() {
        if (!touched()) [[likely]] // mark_broken() needs no statement
            return broken_code() == 0 ? reset_verdict::clean : reset_verdict::retire;
        return reset_touched();
    }
    // What an extended result code calls for: BUSY and LOCKED are retried, DBMOVED ends every
    // connection to the file, the codes that break a connection retire it, the rest fail.
    [[nodiscard]] static constexpr error_action classify(int code) noexcept {
        if (code == SQLITE_READONLY_DBMOVED) return error_action::reconnect_all;
        if (detail::breaks_connection(code)) return error_action::retire;
        return detail::is_busy_code(code) ? error_action::retry : error_action::fail;
    }
    // True when the connection is not broken, answers a trivial statement, holds no transaction,
    // and its file is still the one at its path.
    [[nodiscard]] bool ping();
    // Upkeep after a stretch idle: PRAGMA optimize with what this connection ran (when its pool
    // optimizes; skipped when another connection holds the write lock), and the page cache given
    // back (sqlite3_db_release_memory). Never throws; nothing when broken or in a transaction.
    void idle_upkeep() noexcept;
    // The device and inode of the file it opened ({0, 0} in memory).
    [[nodiscard]] session_identity identity() const noexcept { return {file_device(), file_inode()}; }
    // False only when nothing ran on this connection since mark_clean() (no statement, no raw
    // handle): a pool then skips the reset on return.
    [[nodiscard]] inline bool touched() const noexcept { return !core_ || core_->touched(); }
    inline void mark_clean() noexcept {
        if (core_) core_->mark_clean();
    }
    // Resets every statement that is mid-step, cached or not; returns how many were.
    std::size_t reset_all_statements() noexcept;
    [[nodiscard]] std::size_t busy_statement_count() const noexcept;

    [[nodiscard]] statement_cache_stats statement_cache() const noexcept {
        return core_ ? core_->stats() : statement_cache_stats{};
    }
    [[nodiscard]] const open_options& options() const noexcept { return options_; }
    [[nodiscard]] bool read_only() const;
    // The extended result code of the first error that makes this connection unusable (CORRUPT,
    // NOTADB, IOERR*, CANTOPEN, FULL, NOMEM), or 0.
    [[nodiscard]] inline int broken_code() const noexcept { return core_ ? core_->broken_code() : 0; }
    void mark_broken(int code) noexcept {
        if (core_) core_->mark_broken(code);
    }
    // The raw handle, for what sqlpool does not wrap. Once it has been handed out, a pool walks
    // every prepared statement on return, since statements prepared with it are not tracked.
    [[nodiscard]] sqlite3* native_handle() const noexcept {
        if (!core_) return nullptr;
        core_->handle_escaped();
        return core_->db();
    }
    // True when the file at this connection's path is no longer the one it opened: deleted, or
    // replaced by a rename. Its commits then fail with database_moved_error.
    [[nodiscard]] bool file_moved() const noexcept { return core_ && core_->watch().moved(); }
    // The device and inode of the database file when the connection opened (0 for in-memory).
    [[nodiscard]] std::uint64_t file_device() const noexcept { return core_ ? core_->watch().device() : 0; }
    [[nodiscard]] std::uint64_t file_inode() const noexcept { return core_ ? core_->watch().inode() : 0; }
    // The main database's file name as SQLite resolved it ("" for in-memory databases); valid
    // while the connection is open.
    [[nodiscard]] const char* filename() const;

private:
    template <bindable... Args>
    statement prepare_query(std::string_view sql, int columns, const Args&... args) {
        statement stmt = prepare(sql);
        // A reused statement is checked after its first step (see statement::reused()).
        if (!stmt.reused()) detail::check_columns(stmt, columns, sql);
        stmt.bind_all(args...);
        return stmt;
    }

    friend class sqlite_source; // attaches its checkpointer's hook and reader gate
    friend sqlite3* detail::upkeep_handle(const connection& conn);

    [[nodiscard]] detail::connection_core& core() const {
        if (!core_) throw misuse_error("use of a moved-from connection");
        return *core_;
    }
    void run_script(std::string_view sql);
    void begin_many();
    void end_many(bool done);
    reset_verdict reset_touched();
    void create_with_mode() const;
    void apply_defaults();
    void apply_settings();
    void adopt_settings();
    void pragma(std::string_view name, std::string_view value);

    open_options options_;
    std::shared_ptr<detail::connection_core> core_; // shared with its uncached statements
    isolation_level default_isolation_ = isolation_level::deferred;
};

template <column_type... Ts, bindable... Args>
query_range<Ts...> connection::query(std::string_view sql, const Args&... args) {
    return query_range<Ts...>(prepare_query(sql, static_cast<int>(sizeof...(Ts)), args...));
}

template <column_type... Ts, bindable... Args>
std::optional<std::tuple<Ts...>> connection::query_one(std::string_view sql, const Args&... args) {
    for (auto& row : query<Ts...>(sql, args...)) return row;
    return std::nullopt;
}

template <::ranges::input_range Rows>
    requires bindable_row<::ranges::range_reference_t<Rows>>
std::int64_t connection::exec_many(std::string_view sql, Rows&& rows) {
    statement stmt = prepare(sql);
    begin_many();
    std::int64_t changed = 0;
    try {
        for (auto&& row : std::forward<Rows>(rows)) {
            std::apply([&stmt](const auto&... values) { stmt.bind_all(values...); }, row);
            while (stmt.step()) {
            }
            changed += changes();
            stmt.reset();
        }
    } catch (...) {
        stmt.reset();
        end_many(false);
        throw;
    }
    end_many(true);
    return changed;
}

// Small functions called around each statement or transaction; the rest of connection is defined
// in connection.cpp.

std::int64_t connection::changes() const {
    return sqlite3_changes64(core().db());
}
std::int64_t connection::last_insert_rowid() const {
    return sqlite3_last_insert_rowid(core().db());
}
bool connection::in_transaction() const {
    return sqlite3_get_autocommit(core().db()) == 0;
}

} // namespace sqlpool
