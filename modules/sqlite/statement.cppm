// Prepared statements and the per-connection LRU statement cache behind connection::prepare().
module;
#include "../detail/gmf.hpp"
export module sqlpool:statement;
import :errors;
import :values;
import :file_watch;

namespace sqlpool::detail {

[[nodiscard]] constexpr bool is_busy_code(int code) noexcept {
    const int primary = code & 0xff;
    return primary == SQLITE_BUSY || primary == SQLITE_LOCKED;
}

// Result codes after which a connection must never be handed out again (see DESIGN.md).
[[nodiscard]] constexpr bool breaks_connection(int code) noexcept {
    if (code == SQLITE_READONLY_DBMOVED) return true; // its file is gone from the path
    switch (code & 0xff) {
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
    case SQLITE_IOERR:
    case SQLITE_CANTOPEN:
    case SQLITE_FULL:
    case SQLITE_NOMEM:
        return true;
    default:
        return false;
    }
}

// Throws the sqlpool error that matches `code`. The message is SQLite's own when the handle's
// last error is this one, SQLite's generic text for the code otherwise.
[[noreturn]] inline void throw_sqlite_error(sqlite3* db, int code, std::string_view sql) {
    std::string message =
        (db != nullptr && sqlite3_extended_errcode(db) == code) ? sqlite3_errmsg(db) : sqlite3_errstr(code);
    const int primary = code & 0xff;
    if (code == SQLITE_READONLY_DBMOVED) throw database_moved_error(std::move(message), std::string(sql));
    if (is_busy_code(code)) throw busy_error(code, std::move(message), std::string(sql));
    if (primary == SQLITE_MISUSE || primary == SQLITE_RANGE)
        throw misuse_error(message + " [sql: " + std::string(sql) + "]");
    throw sqlite_error(code, std::move(message), std::string(sql));
}

struct cache_entry {
    std::string sql;
    sqlite3_stmt* stmt = nullptr;
    bool checked_out = false;
};

struct transparent_hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view text) const noexcept {
        return std::hash<std::string_view>{}(text);
    }
};

class connection_core;

} // namespace sqlpool::detail

export namespace sqlpool {

struct statement_cache_stats {
    std::uint64_t hits = 0;
    std::uint64_t misses = 0;
    std::uint64_t evictions = 0;
    std::size_t size = 0;
    std::size_t capacity = 0;
};

// A prepared statement. Move-only; a statement that came from the cache goes back to it (reset,
// bindings cleared) when destroyed, any other is finalized. It must not outlive its connection.
class statement {
public:
    statement() = default;
    statement(const statement&) = delete;
    statement& operator=(const statement&) = delete;
    statement(statement&& other) noexcept { swap(other); }
    statement& operator=(statement&& other) noexcept {
        if (this != &other) {
            statement(std::move(other)).swap(*this);
        }
        return *this;
    }
    ~statement();

    // Binds parameter `index` (1-based, as in SQLite).
    template <bindable T>
    statement& bind(int index, const T& value) {
        check_bind(detail::bind_value(handle(), index, value), index);
        return *this;
    }
    // Binds a named parameter, spelled with its prefix (":id", "@id", "$id").
    template <bindable T>
    statement& bind(std::string_view name, const T& value) {
        return bind(parameter_index(name), value);
    }
    // Binds every parameter in order; the count must match the statement's.
    template <bindable... Args>
    statement& bind_all(const Args&... args) {
        if (static_cast<int>(sizeof...(Args)) != parameter_count())
            throw misuse_error("statement takes " + std::to_string(parameter_count()) + " parameter(s) but " +
                               std::to_string(sizeof...(Args)) + " were given [sql: " + std::string(sql()) +
                               "]");
        int index = 0;
        (bind(++index, args), ...);
        return *this;
    }

    // Advances to the next row: true when a row is available, false when the statement is done.
    bool step();
    void reset();
    void clear_bindings();

    // Reads column `index` (0-based) of the current row, checking its storage class.
    template <column_type T>
    [[nodiscard]] T column(int index) const {
        check_column(index);
        return detail::read_column<T>(stmt_, index);
    }
    [[nodiscard]] bool is_null(int index) const;

    [[nodiscard]] int column_count() const;
    [[nodiscard]] std::string column_name(int index) const;
    [[nodiscard]] int parameter_count() const;
    [[nodiscard]] int parameter_index(std::string_view name) const;
    [[nodiscard]] std::string_view sql() const;
    [[nodiscard]] bool busy() const;
    [[nodiscard]] bool cached() const noexcept { return entry_ != nullptr; }
    // True when it came from the cache already prepared. Until its first step() after a schema
    // change, such a statement still reports the old result columns (SQLite re-prepares it lazily).
    [[nodiscard]] bool reused() const noexcept { return reused_; }
    [[nodiscard]] explicit operator bool() const noexcept { return stmt_ != nullptr; }
    [[nodiscard]] sqlite3_stmt* native_handle() const noexcept { return stmt_; }

    void swap(statement& other) noexcept {
        std::swap(core_, other.core_);
        std::swap(stmt_, other.stmt_);
        std::swap(entry_, other.entry_);
        std::swap(reused_, other.reused_);
        std::swap(uncached_live_, other.uncached_live_);
        std::swap(owner_, other.owner_);
    }

private:
    friend class detail::connection_core;
    statement(detail::connection_core* core, sqlite3_stmt* stmt, detail::cache_entry* entry)
        : core_(core), stmt_(stmt), entry_(entry) {}
    statement(std::shared_ptr<detail::connection_core> owner, sqlite3_stmt* stmt,
              std::shared_ptr<std::size_t> uncached_live);

    [[nodiscard]] sqlite3_stmt* handle() const;
    void check_bind(int code, int index);
    void check_column(int index) const;

    detail::connection_core* core_ = nullptr;
    sqlite3_stmt* stmt_ = nullptr;
    detail::cache_entry* entry_ = nullptr;
    bool reused_ = false;
    // The connection's count of live uncached statements, shared because such a statement may
    // outlive its connection (sqlite3_close_v2 waits for it).
    std::shared_ptr<std::size_t> uncached_live_;
    // An uncached statement keeps its connection's core (its file watch, which the commit hook
    // and every step read, and its error state) alive for as long as it lives.
    std::shared_ptr<detail::connection_core> owner_;
};

} // namespace sqlpool

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
    [[noreturn]] void fail(int code, std::string_view sql) {
        // An I/O error from a file that moved meanwhile is the move's doing: the old file's journal
        // shares its name with the new file's, and another connection may have removed it.
        const bool moved = code == SQLITE_READONLY_DBMOVED ||
                           (code == SQLITE_CONSTRAINT_COMMITHOOK && watch_.take_refusal()) ||
                           (breaks_connection(code) && watch_.moved());
        if (moved) {
            mark_broken(SQLITE_READONLY_DBMOVED);
            watch_.throw_moved(sql, code != SQLITE_READONLY_DBMOVED && code != SQLITE_CONSTRAINT_COMMITHOOK);
        }
        if (breaks_connection(code) && broken_code_ == 0) broken_code_ = code;
        throw_sqlite_error(db_, code, sql);
    }
    // After every step: a commit that went into a file moved away meanwhile is reported as
    // database_moved_error, never acknowledged.
    void after_step(sqlite3_stmt* stmt) {
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
    [[nodiscard]] int broken_code() const noexcept { return broken_code_; }

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
                         const char* trigger) noexcept {
        auto* core = static_cast<connection_core*>(self);
        if (action == SQLITE_PRAGMA && argument != nullptr && !is_query_pragma(name)) {
            ++core->settings_writes_;
            if (!core->restores(name) && !is_database_pragma(name)) ++core->session_taints_;
        }
        if (creates_schema(action)) ++core->schema_writes_;
        if (!core->user_authorizer) return SQLITE_OK;
        try {
            const auto text = [](const char* p) {
                return p != nullptr ? std::string_view(p) : std::string_view();
            };
            return core->user_authorizer(action, text(name), text(argument), text(database), text(trigger));
        } catch (...) {
            return SQLITE_DENY; // an authorizer that fails denies
        }
    }

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
        if (auto found = index_.find(sql); found != index_.end() && !found->second->checked_out) {
            ++stats_.hits;
            lru_.splice(lru_.begin(), lru_, found->second);
            found->second->checked_out = true;
            ++checked_out_;
            statement reused(this, found->second->stmt, &*found->second);
            reused.reused_ = true;
            return reused;
        }
        ++stats_.misses;
        sqlite3_stmt* stmt = nullptr;
        const char* tail = nullptr;
        const std::uint64_t settings_before = settings_writes_;
        const std::uint64_t schema_before = schema_writes_;
        const int code = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()),
                                            SQLITE_PREPARE_PERSISTENT, &stmt, &tail);
        if (code != SQLITE_OK) fail(code, sql);
        if (stmt == nullptr) return {};
        if (!only_comments(std::string_view(tail, sql.data() + sql.size()))) {
            sqlite3_finalize(stmt);
            is_script = true;
            return {};
        }
        // A statement that changes a setting or creates schema is never cached: preparing it again
        // each time is what lets the authorizer see (and count) every run of it.
        if (capacity_ == 0 || settings_writes_ != settings_before || schema_writes_ != schema_before ||
            index_.contains(sql) || !make_room()) {
            ++*uncached_live_;
            return statement(shared_from_this(), stmt, uncached_live_);
        }
        lru_.push_front(cache_entry{std::string(sql), stmt, true});
        index_.emplace(lru_.front().sql, lru_.begin());
        ++checked_out_;
        return statement(this, stmt, &lru_.front());
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
    [[nodiscard]] bool escaped() const noexcept { return handle_escaped_; }

    [[nodiscard]] statement_cache_stats stats() const noexcept {
        statement_cache_stats result = stats_;
        result.size = lru_.size();
        result.capacity = capacity_;
        return result;
    }

    // Finalizes every cached statement and closes the handle. sqlite3_close_v2 defers the close
    // until statements still held elsewhere are finalized, so the handle never dangles.
    void close() noexcept {
        for (auto& entry : lru_) sqlite3_finalize(entry.stmt);
        index_.clear();
        lru_.clear();
        if (db_ != nullptr) sqlite3_close_v2(db_);
        db_ = nullptr;
    }

private:
    static bool same_name(std::string_view a, std::string_view b) noexcept {
        return a.size() == b.size() && std::ranges::equal(a, b, [](char x, char y) {
                   return (x >= 'A' && x <= 'Z' ? x + 32 : x) == (y >= 'A' && y <= 'Z' ? y + 32 : y);
               });
    }
    bool restores(const char* name) const noexcept {
        const std::string_view pragma = name != nullptr ? name : "";
        return std::ranges::any_of(restorable_pragmas,
                                   [&](const std::string& r) { return same_name(r, pragma); });
    }
    // Pragmas with an argument that act on the database file (or once) rather than set session
    // state: another connection sees the same, so there is nothing to restore.
    static bool is_database_pragma(const char* name) noexcept {
        static constexpr std::string_view database_wide[] = {
            "wal_checkpoint", "optimize",       "incremental_vacuum", "shrink_memory",
            "user_version",   "application_id", "page_size",          "auto_vacuum"};
        const std::string_view pragma = name != nullptr ? name : "";
        return std::ranges::any_of(database_wide, [&](std::string_view d) { return same_name(d, pragma); });
    }

    // Authorizer actions that create a schema object (https://sqlite.org/c3ref/c_alter_table.html).
    static constexpr bool creates_schema(int action) noexcept {
        return (action >= SQLITE_CREATE_INDEX && action <= SQLITE_CREATE_VIEW) ||
               action == SQLITE_CREATE_VTABLE;
    }

    // Pragmas whose argument names what to read rather than a value to set.
    static bool is_query_pragma(const char* name) noexcept {
        static constexpr std::string_view readers[] = {
            "table_info",    "table_xinfo",      "table_list",        "index_info",      "index_xinfo",
            "index_list",    "foreign_key_list", "foreign_key_check", "integrity_check", "quick_check",
            "function_list", "pragma_list",      "module_list",       "collation_list",  "database_list"};
        const std::string_view pragma = name != nullptr ? name : "";
        return std::ranges::find(readers, pragma) != std::end(readers);
    }

    // True when `rest` (a statement's tail) holds nothing but white space, ';' and comments.
    bool only_comments(std::string_view rest) {
        while (true) {
            const auto start = rest.find_first_not_of(" \t\r\n\f\v;");
            if (start == std::string_view::npos) return true;
            rest.remove_prefix(start);
            sqlite3_stmt* next = nullptr;
            const char* tail = nullptr;
            if (sqlite3_prepare_v2(db_, rest.data(), static_cast<int>(rest.size()), &next, &tail) !=
                    SQLITE_OK ||
                next != nullptr) {
                sqlite3_finalize(next);
                return false;
            }
            const auto consumed = static_cast<std::size_t>(tail - rest.data());
            if (consumed == 0) return false;
            rest.remove_prefix(consumed);
        }
    }

    // Evicts the least recently used idle statement when the cache is full. False when every
    // cached statement is checked out, so the new one cannot be cached.
    bool make_room() noexcept {
        if (lru_.size() < capacity_) return true;
        for (auto it = lru_.end(); it != lru_.begin();) {
            --it;
            if (it->checked_out) continue;
            index_.erase(std::string_view(it->sql));
            sqlite3_finalize(it->stmt);
            lru_.erase(it);
            ++stats_.evictions;
            return true;
        }
        return false;
    }

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
    std::list<cache_entry> lru_; // most recently used first
    std::unordered_map<std::string_view, std::list<cache_entry>::iterator, transparent_hash, std::equal_to<>>
        index_;
    statement_cache_stats stats_;
};

} // namespace sqlpool::detail

namespace sqlpool {

statement::statement(std::shared_ptr<detail::connection_core> owner, sqlite3_stmt* stmt,
                     std::shared_ptr<std::size_t> uncached_live)
    : core_(owner.get()), stmt_(stmt), uncached_live_(std::move(uncached_live)), owner_(std::move(owner)) {}

statement::~statement() {
    if (stmt_ == nullptr) return;
    if (entry_ != nullptr) {
        core_->give_back(*entry_);
    } else {
        sqlite3_finalize(stmt_);
        if (uncached_live_) --*uncached_live_;
    }
}

sqlite3_stmt* statement::handle() const {
    if (stmt_ == nullptr) throw misuse_error("use of an empty or moved-from statement");
    return stmt_;
}

void statement::check_bind(int code, int index) {
    if (code == SQLITE_OK) return;
    if ((code & 0xff) == SQLITE_RANGE)
        throw misuse_error("bind index " + std::to_string(index) + " is out of range: statement takes " +
                           std::to_string(parameter_count()) + " parameter(s) [sql: " + std::string(sql()) +
                           "]");
    core_->fail(code, sql());
}

void statement::check_column(int index) const {
    const int count = column_count();
    if (index < 0 || index >= count)
        throw misuse_error("column index " + std::to_string(index) + " is out of range: statement has " +
                           std::to_string(count) + " column(s) [sql: " + std::string(sql()) + "]");
    if (sqlite3_data_count(stmt_) == 0)
        throw misuse_error("no current row to read: step() first [sql: " + std::string(sql()) + "]");
}

bool statement::step() {
    const int code = sqlite3_step(handle());
    core_->after_step(stmt_);
    if (code == SQLITE_ROW) return true;
    if (code == SQLITE_DONE) return false;
    core_->fail(code, sql());
}

void statement::reset() {
    sqlite3_reset(handle());
}
void statement::clear_bindings() {
    sqlite3_clear_bindings(handle());
}

bool statement::is_null(int index) const {
    check_column(index);
    return sqlite3_column_type(stmt_, index) == SQLITE_NULL;
}

int statement::column_count() const {
    return sqlite3_column_count(handle());
}

std::string statement::column_name(int index) const {
    const char* name = sqlite3_column_name(handle(), index);
    if (name == nullptr) throw misuse_error("column index " + std::to_string(index) + " is out of range");
    return name;
}

int statement::parameter_count() const {
    return sqlite3_bind_parameter_count(handle());
}

int statement::parameter_index(std::string_view name) const {
    const int index = sqlite3_bind_parameter_index(handle(), std::string(name).c_str());
    if (index == 0)
        throw misuse_error("no parameter named '" + std::string(name) + "' [sql: " + std::string(sql()) +
                           "]");
    return index;
}

std::string_view statement::sql() const {
    const char* text = stmt_ != nullptr ? sqlite3_sql(stmt_) : nullptr;
    return text != nullptr ? std::string_view(text) : std::string_view{};
}

bool statement::busy() const {
    return sqlite3_stmt_busy(handle()) != 0;
}

} // namespace sqlpool
