// Prepared statements. The per-connection LRU statement cache behind connection::prepare() is
// detail::connection_core, in :statement_cache (modules/sqlite/statement_cache.cppm).
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

class connection_core; // in :statement_cache

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

namespace sqlpool {

sqlite3_stmt* statement::handle() const {
    if (stmt_ == nullptr) throw misuse_error("use of an empty or moved-from statement");
    return stmt_;
}

void statement::check_column(int index) const {
    const int count = column_count();
    if (index < 0 || index >= count)
        throw misuse_error("column index " + std::to_string(index) + " is out of range: statement has " +
                           std::to_string(count) + " column(s) [sql: " + std::string(sql()) + "]");
    if (sqlite3_data_count(stmt_) == 0)
        throw misuse_error("no current row to read: step() first [sql: " + std::string(sql()) + "]");
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

int statement::parameter_count() const {
    return sqlite3_bind_parameter_count(handle());
}

std::string_view statement::sql() const {
    const char* text = stmt_ != nullptr ? sqlite3_sql(stmt_) : nullptr;
    return text != nullptr ? std::string_view(text) : std::string_view{};
}

} // namespace sqlpool
