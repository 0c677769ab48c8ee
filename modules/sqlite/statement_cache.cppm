// connection_core: what a connection owns besides its handle (the statement cache, the sticky
// "broken" code, the authorizer's counts), and the members of statement that reach into it.
module;
#include "../detail/gmf.hpp"
export module sqlpool:statement_cache;
import :errors;
import :values;
import :file_watch;
import :statement;
import :reader_gate;
import :fork_guard;
import :deadline;
import :session_board;

namespace sqlpool::detail {

// What a connection owns besides its handle: the statement cache and the sticky "broken" code.
// It lives on the heap so that statements can point at it while their connection moves.
class connection_core : public std::enable_shared_from_this<connection_core> {
public:
    connection_core(sqlite3* db, std::size_t cache_capacity) : db_(db), capacity_(cache_capacity) {}
    connection_core(const connection_core&) = delete;
    connection_core& operator=(const connection_core&) = delete;
    connection_core(connection_core&&) = delete;
    connection_core& operator=(connection_core&&) = delete;
    ~connection_core() { close(); }

    [[nodiscard]] sqlite3* db() const noexcept { return db_; }

    // Throws the error for `code`, remembering a code that breaks the connection.
    [[noreturn]] void fail(int code, std::string_view sql);
    // After every step: a commit that went into a file moved away meanwhile is reported as
    // database_moved_error, never acknowledged.
    void after_step(sqlite3_stmt* stmt) {
        if (shown_) [[unlikely]]
            unshow_if_done();
        if (!watch_.commit_pending()) [[likely]]
            return;
        try {
            watch_.verify_commit(stmt != nullptr ? sqlite3_sql(stmt) : "");
        } catch (...) {
            mark_broken(SQLITE_READONLY_DBMOVED);
            throw;
        }
    }
    [[nodiscard]] file_watch& watch() noexcept { return watch_; }
    void check(int code, std::string_view sql) {
        if (code != SQLITE_OK) fail(code, sql);
    }
    [[nodiscard]] inline int broken_code() const noexcept { return broken_code_; }

    // PRAGMA statements that set a value, prepared since the settings were last applied.
    [[nodiscard]] std::uint64_t settings_writes() const noexcept { return settings_writes_; }
    void settings_applied() noexcept { settings_writes_ = 0; }

    // Statements prepared since accept_session() that leave session state restore_settings()
    // cannot undo: a PRAGMA setting outside restorable_pragmas (query_only, trusted_schema,
    // locking_mode, ...).
    [[nodiscard]] std::uint64_t session_taints() const noexcept { return session_taints_; }
    // Statements prepared since accept_session() that create schema, in any database: whether
    // one of them left a temporary object (`CREATE TABLE temp.t`, a TEMP trigger on a main table)
    // is read from the temp schema itself, not from the statement's text.
    [[nodiscard]] std::uint64_t schema_writes() const noexcept { return schema_writes_; }
    void accept_session() noexcept {
        session_taints_ = 0;
        schema_writes_ = 0;
    }
    // The pragmas restore_settings() applies again (compared without regard to case).
    std::vector<std::string> restorable_pragmas;

    // SQLite's authorizer (https://sqlite.org/c3ref/set_authorizer.html) sees every PRAGMA at
    // prepare time; one with an argument may change a setting the pool must restore.
    static int authorize(void* self, int action, const char* name, const char* argument, const char* database,
                         const char* trigger) noexcept;

    // The user's authorizer (open_options::authorizer), consulted after sqlpool's own bookkeeping.
    std::function<int(int, std::string_view, std::string_view, std::string_view, std::string_view)>
        user_authorizer;
    void mark_broken(int code) noexcept {
        if (broken_code_ == 0) broken_code_ = code;
    }

    // A statement for `sql`: from the cache when it holds an idle one, else freshly prepared (and
    // cached when it is a single statement). An empty result means the text held no statement.
    // `is_script` is set when the text holds more than one statement; nothing is prepared then.
    statement checkout(std::string_view sql, bool& is_script) {
        is_script = false;
        touched_ = true;
        if (forked_since(born_)) [[unlikely]]
            throw_forked();
        if (limited_) [[unlikely]]
            check_limit(sql);
        if (gate_ != nullptr && gate_->active()) [[unlikely]]
            at_gate(sql);
        if (auto found = index_.find(sql); found != index_.end() && !found->second->checked_out) {
            ++stats_.hits;
            lru_.splice(lru_.begin(), lru_, found->second);
            found->second->checked_out = true;
            ++checked_out_;
            statement reused(this, found->second->stmt, &*found->second);
            reused.reused_ = true;
            return reused;
        }
        return prepare_fresh(sql, is_script);
    }

    void give_back(cache_entry& entry) noexcept {
        sqlite3_reset(entry.stmt);
        sqlite3_clear_bindings(entry.stmt);
        entry.checked_out = false;
        --checked_out_;
    }

    // False only when no statement of this connection can be mid-step: none is checked out of
    // the cache, no uncached one is alive, and the raw handle never left (anything prepared
    // with it is invisible here). Lets a pool skip walking every prepared statement on return.
    [[nodiscard]] bool may_have_busy_statements() const noexcept {
        return checked_out_ != 0 || *uncached_live_ != 0 || handle_escaped_;
    }
    void handle_escaped() noexcept { handle_escaped_ = true; }
    // False only when no statement was checked out since mark_clean() and the raw handle never
    // left: the session is exactly as the pool's last reset left it.
    [[nodiscard]] inline bool touched() const noexcept { return touched_ || handle_escaped_; }
    inline void mark_clean() noexcept { touched_ = false; }
    [[nodiscard]] bool escaped() const noexcept { return handle_escaped_; }
    // Runs PRAGMA optimize when it closes (unless broken): upkeep for pooled connections.
    void optimize_on_close() noexcept { optimize_on_close_ = true; }
    [[nodiscard]] bool optimizes() const noexcept { return optimize_on_close_; }
    // The reader gate of this connection's database file (see :reader_gate), or none.
    void set_reader_gate(std::shared_ptr<const reader_gate> gate) noexcept { gate_ = std::move(gate); }

    // The deadline of the call using this connection: statements do not start after it, one
    // still running is interrupted (the progress handler), and lock waits end at it (a busy
    // handler in place of sqlite3_busy_timeout(busy_timeout) while it is set). Setting one
    // touches the connection, so the pool's reset on return clears it.
    void set_limit(const deadline& limit, std::chrono::milliseconds busy_timeout) noexcept;
    void clear_limit(std::chrono::milliseconds busy_timeout) noexcept;
    [[nodiscard]] bool limited() const noexcept { return limited_; }
    // Installs the progress handler that interrupts statements past the call's deadline or the
    // gate's read-transaction cap, or on the board's order, and shows on the board what runs for
    // a while.
    void watch_progress() noexcept;
    // The pool's board for this connection (it outlives the connection); see session_board.
    void attach(session_board& board) noexcept;
    // Takes what this connection showed off the board (the statements ended).
    void unshow() noexcept;

    [[nodiscard]] statement_cache_stats stats() const noexcept {
        statement_cache_stats result = stats_;
        result.size = lru_.size();
        result.capacity = capacity_;
        return result;
    }

    // Finalizes every cached statement and closes the handle. sqlite3_close_v2 defers the close
    // until statements still held elsewhere are finalized, so the handle never dangles.
    void close() noexcept;

private:
    // True when restore_settings() applies pragma `name` again.
    [[nodiscard]] bool restores(const char* name) const noexcept;
    // The miss path of checkout(): prepares `sql`, and caches it when it can.
    statement prepare_fresh(std::string_view sql, bool& is_script);
    // True when `rest` (a statement's tail) holds nothing but white space, ';' and comments.
    bool only_comments(std::string_view rest);

    // Evicts the least recently used idle statement when the cache is full. False when every
    // cached statement is checked out, so the new one cannot be cached.
    bool make_room() noexcept;
    // Waits out a held reader gate when a statement would start a new transaction: none is open
    // and no statement is mid-step. One in a transaction goes on, or the checkpoint would wait for it.
    void wait_at_gate() const;
    // A statement on a capped gate: refused inside a read transaction, unless it ends it.
    void at_gate(std::string_view sql);
    void check_limit(std::string_view sql);
    // Shows the statements running now on the board (once, until they end).
    void show_running() noexcept;
    // In the progress and busy handlers: true when the board ordered an interrupt.
    bool obeys_board() noexcept;
    void unshow_if_done() noexcept;
    // Why the statement running now was or is to be interrupted.
    enum class stop_cause : std::uint8_t { none, deadline, stop, cap, closed };
    [[noreturn]] void throw_interrupted(std::string_view sql);
    static int on_busy(void* self, int count) noexcept;
    static int on_progress(void* self) noexcept;
    // A forked child may not use what it inherited (see :fork_guard).
    [[noreturn]] void throw_forked() const;

    sqlite3* db_;
    file_watch watch_;
    std::size_t capacity_;
    int broken_code_ = 0;
    std::uint64_t settings_writes_ = 0;
    std::uint64_t session_taints_ = 0;
    std::uint64_t schema_writes_ = 0;
    std::size_t checked_out_ = 0; // cached statements held by a `statement`
    std::shared_ptr<std::size_t> uncached_live_ = std::make_shared<std::size_t>(0);
    bool handle_escaped_ = false;
    bool touched_ = true;        // a new connection is clean only after the pool's first reset
    std::list<cache_entry> lru_; // most recently used first
    std::unordered_map<std::string_view, std::list<cache_entry>::iterator, transparent_hash, std::equal_to<>>
        index_;
    statement_cache_stats stats_;
    std::shared_ptr<const reader_gate> gate_;
    std::uint64_t born_ = fork_generation_now(); // the process it was opened in
    bool optimize_on_close_ = false;
    bool limited_ = false;
    stop_cause cause_ = stop_cause::none;
    deadline limit_;
    std::chrono::milliseconds busy_timeout_{};         // while limited_
    std::chrono::steady_clock::time_point busy_since_; // the lock wait under way
    session_board* board_ = nullptr;
    bool shown_ = false; // the board shows this connection's running statements
};

} // namespace sqlpool::detail

namespace sqlpool {

// statement's members that call into connection_core, defined here where it is complete.

statement::~statement() {
    if (stmt_ == nullptr) return;
    if (entry_ != nullptr) {
        core_->give_back(*entry_);
    } else {
        sqlite3_finalize(stmt_);
        if (uncached_live_) --*uncached_live_;
    }
}

void statement::check_bind(int code, int index) {
    if (code == SQLITE_OK) return;
    if ((code & 0xff) == SQLITE_RANGE)
        throw misuse_error("bind index " + std::to_string(index) + " is out of range: statement takes " +
                           std::to_string(parameter_count()) + " parameter(s) [sql: " + std::string(sql()) +
                           "]");
    core_->fail(code, sql());
}

bool statement::step() {
    const int code = sqlite3_step(handle());
    core_->after_step(stmt_);
    if (code == SQLITE_ROW) return true;
    if (code == SQLITE_DONE) return false;
    core_->fail(code, sql());
}

} // namespace sqlpool
