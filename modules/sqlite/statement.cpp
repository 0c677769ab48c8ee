// Statements and the statement cache: preparing, the authorizer's bookkeeping, errors and
// closing, behind the declarations of modules/sqlite/statement.cppm.
module;
#include "../detail/gmf.hpp"
module sqlpool;

namespace sqlpool::detail {
namespace {

// Throws the sqlpool error that matches `code`. The message is SQLite's own when the handle's
// last error is this one, SQLite's generic text for the code otherwise.
[[noreturn]] void throw_sqlite_error(sqlite3* db, int code, std::string_view sql) {
    std::string message =
        (db != nullptr && sqlite3_extended_errcode(db) == code) ? sqlite3_errmsg(db) : sqlite3_errstr(code);
    const int primary = code & 0xff;
    if (code == SQLITE_READONLY_DBMOVED) throw database_moved_error(std::move(message), std::string(sql));
    if (is_busy_code(code)) throw busy_error(code, std::move(message), std::string(sql));
    if (primary == SQLITE_MISUSE || primary == SQLITE_RANGE)
        throw misuse_error(message + " [sql: " + std::string(sql) + "]");
    throw sqlite_error(code, std::move(message), std::string(sql));
}

bool same_name(std::string_view a, std::string_view b) noexcept {
    return a.size() == b.size() && std::ranges::equal(a, b, [](char x, char y) {
               return (x >= 'A' && x <= 'Z' ? x + 32 : x) == (y >= 'A' && y <= 'Z' ? y + 32 : y);
           });
}

// Pragmas with an argument that act on the database file (or once) rather than set session
// state: another connection sees the same, so there is nothing to restore.
bool is_database_pragma(const char* name) noexcept {
    static constexpr std::string_view database_wide[] = {
        "wal_checkpoint", "optimize",       "incremental_vacuum", "shrink_memory",
        "user_version",   "application_id", "page_size",          "auto_vacuum"};
    const std::string_view pragma = name != nullptr ? name : "";
    return std::ranges::any_of(database_wide, [&](std::string_view d) { return same_name(d, pragma); });
}

// Authorizer actions that create a schema object (https://sqlite.org/c3ref/c_alter_table.html).
constexpr bool creates_schema(int action) noexcept {
    return (action >= SQLITE_CREATE_INDEX && action <= SQLITE_CREATE_VIEW) || action == SQLITE_CREATE_VTABLE;
}

// Pragmas whose argument names what to read rather than a value to set.
bool is_query_pragma(const char* name) noexcept {
    static constexpr std::string_view readers[] = {
        "table_info",    "table_xinfo",      "table_list",        "index_info",      "index_xinfo",
        "index_list",    "foreign_key_list", "foreign_key_check", "integrity_check", "quick_check",
        "function_list", "pragma_list",      "module_list",       "collation_list",  "database_list"};
    const std::string_view pragma = name != nullptr ? name : "";
    return std::ranges::find(readers, pragma) != std::end(readers);
}

} // namespace

void connection_core::fail(int code, std::string_view sql) {
    // The progress handler or the busy handler stopped the statement: the call's deadline or the
    // read-transaction cap, not the database, is what the caller hears about.
    if (cause_ != stop_cause::none && ((code & 0xff) == SQLITE_INTERRUPT || (code & 0xff) == SQLITE_BUSY))
        throw_interrupted(sql);
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

int connection_core::authorize(void* self, int action, const char* name, const char* argument,
                               const char* database, const char* trigger) noexcept {
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

statement connection_core::prepare_fresh(std::string_view sql, bool& is_script) {
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

void connection_core::wait_at_gate() const {
    if (sqlite3_get_autocommit(db_) == 0) return;
    for (sqlite3_stmt* stmt = sqlite3_next_stmt(db_, nullptr); stmt != nullptr;
         stmt = sqlite3_next_stmt(db_, stmt))
        if (sqlite3_stmt_busy(stmt) != 0) return;
    gate_->wait();
}

void connection_core::throw_forked() const {
    throw misuse_error("a connection opened before fork() was used in the child process " +
                       std::to_string(::getpid()) +
                       ": SQLite forbids it (https://sqlite.org/howtocorrupt.html#fork); a pool in the child "
                       "opens connections of its own, take a new lease");
}

// In a forked child the handle and its statements are left as they are: finalizing or closing
// them would act on the parent's open file (https://sqlite.org/howtocorrupt.html#fork).
void connection_core::close() noexcept {
    if (forked_since(born_)) {
        index_.clear();
        lru_.clear();
        db_ = nullptr;
        return;
    }
    for (auto& entry : lru_) sqlite3_finalize(entry.stmt);
    index_.clear();
    lru_.clear();
    // Upkeep: what it fails on (a busy or moved file) is no reason not to close.
    if (optimize_on_close_ && broken_code_ == 0 && db_ != nullptr)
        (void)sqlite3_exec(db_, "PRAGMA optimize", nullptr, nullptr, nullptr);
    if (db_ != nullptr) sqlite3_close_v2(db_);
    db_ = nullptr;
}

bool connection_core::restores(const char* name) const noexcept {
    const std::string_view pragma = name != nullptr ? name : "";
    return std::ranges::any_of(restorable_pragmas,
                               [&](const std::string& r) { return same_name(r, pragma); });
}

bool connection_core::only_comments(std::string_view rest) {
    while (true) {
        const auto start = rest.find_first_not_of(" \t\r\n\f\v;");
        if (start == std::string_view::npos) return true;
        rest.remove_prefix(start);
        sqlite3_stmt* next = nullptr;
        const char* tail = nullptr;
        if (sqlite3_prepare_v2(db_, rest.data(), static_cast<int>(rest.size()), &next, &tail) != SQLITE_OK ||
            next != nullptr) {
            sqlite3_finalize(next);
            return false;
        }
        const auto consumed = static_cast<std::size_t>(tail - rest.data());
        if (consumed == 0) return false;
        rest.remove_prefix(consumed);
    }
}

bool connection_core::make_room() noexcept {
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

} // namespace sqlpool::detail

namespace sqlpool {

statement::statement(std::shared_ptr<detail::connection_core> owner, sqlite3_stmt* stmt,
                     std::shared_ptr<std::size_t> uncached_live)
    : core_(owner.get()), stmt_(stmt), uncached_live_(std::move(uncached_live)), owner_(std::move(owner)) {}

std::string statement::column_name(int index) const {
    const char* name = sqlite3_column_name(handle(), index);
    if (name == nullptr) throw misuse_error("column index " + std::to_string(index) + " is out of range");
    return name;
}

int statement::parameter_index(std::string_view name) const {
    const int index = sqlite3_bind_parameter_index(handle(), std::string(name).c_str());
    if (index == 0)
        throw misuse_error("no parameter named '" + std::string(name) + "' [sql: " + std::string(sql()) +
                           "]");
    return index;
}

bool statement::busy() const {
    return sqlite3_stmt_busy(handle()) != 0;
}

} // namespace sqlpool
