// connection: a move-only RAII owner of one sqlite3 handle, opened with safe defaults.
module;
#include "../detail/gmf.hpp"
export module sqlpool:connection;
import :errors;
import :names;
import :values;
import :file_watch;
import :statement;

export namespace sqlpool {

enum class open_mode { read_only, read_write, read_write_create };

// PRAGMA journal_mode. `delete_journal` is SQLite's DELETE; `unchanged` leaves the file's mode.
enum class journal_mode { wal, delete_journal, truncate, persist, memory, off, unchanged };

// PRAGMA synchronous. NORMAL is safe from corruption in WAL mode; a power loss may undo the last
// commits, a crash of the process does not (https://sqlite.org/pragma.html#pragma_synchronous).
enum class synchronous_mode { off, normal, full, extra, unchanged };

// SQLite's run-time limits (https://sqlite.org/limits.html), for open_options::limits.
enum class limit {
    length,
    sql_length,
    column,
    expr_depth,
    compound_select,
    vdbe_op,
    function_arg,
    attached,
    like_pattern_length,
    variable_number,
    trigger_depth,
    worker_threads
};

} // namespace sqlpool

namespace sqlpool::detail {

// The one list of each enum's names: pool_config's text form and the pragmas sqlpool runs read them.
inline constexpr enum_names<open_mode, 3> open_mode_names{
    {{open_mode::read_only, "read_only"},
     {open_mode::read_write, "read_write"},
     {open_mode::read_write_create, "read_write_create"}}};
static_assert(in_enum_order(open_mode_names));

inline constexpr enum_names<journal_mode, 7> journal_mode_names{{{journal_mode::wal, "wal"},
                                                                 {journal_mode::delete_journal, "delete"},
                                                                 {journal_mode::truncate, "truncate"},
                                                                 {journal_mode::persist, "persist"},
                                                                 {journal_mode::memory, "memory"},
                                                                 {journal_mode::off, "off"},
                                                                 {journal_mode::unchanged, "unchanged"}}};
static_assert(in_enum_order(journal_mode_names));

inline constexpr enum_names<synchronous_mode, 5> synchronous_mode_names{
    {{synchronous_mode::off, "off"},
     {synchronous_mode::normal, "normal"},
     {synchronous_mode::full, "full"},
     {synchronous_mode::extra, "extra"},
     {synchronous_mode::unchanged, "unchanged"}}};
static_assert(in_enum_order(synchronous_mode_names));

inline constexpr enum_names<limit, 12> limit_names{{{limit::length, "length"},
                                                    {limit::sql_length, "sql_length"},
                                                    {limit::column, "column"},
                                                    {limit::expr_depth, "expr_depth"},
                                                    {limit::compound_select, "compound_select"},
                                                    {limit::vdbe_op, "vdbe_op"},
                                                    {limit::function_arg, "function_arg"},
                                                    {limit::attached, "attached"},
                                                    {limit::like_pattern_length, "like_pattern_length"},
                                                    {limit::variable_number, "variable_number"},
                                                    {limit::trigger_depth, "trigger_depth"},
                                                    {limit::worker_threads, "worker_threads"}}};
static_assert(in_enum_order(limit_names));

} // namespace sqlpool::detail

export namespace sqlpool {

// What an authorizer answers (https://sqlite.org/c3ref/c_deny.html).
namespace authorizer_result {
inline constexpr int ok = SQLITE_OK;
inline constexpr int deny = SQLITE_DENY;
inline constexpr int ignore = SQLITE_IGNORE;
} // namespace authorizer_result

// An authorizer callback: (action code, two arguments, database name, trigger or view name) ->
// authorizer_result. Called while statements are prepared, on the connection's thread.
using authorizer_function = std::function<int(int action, std::string_view first, std::string_view second,
                                              std::string_view database, std::string_view trigger)>;

struct open_options {
    std::string path; // a file, ":memory:" or a "file:" URI
    open_mode mode = open_mode::read_write_create;
    std::chrono::milliseconds busy_timeout{2000}; // how long a lock is waited for
    bool nofollow = false;                        // refuse a path that is a symbolic link
    journal_mode journal = journal_mode::wal;     // applied to file databases only
    synchronous_mode synchronous = synchronous_mode::normal;
    bool foreign_keys = true;
    std::vector<std::pair<std::string, std::string>> pragmas; // applied after the defaults
    std::size_t statement_cache_size = 64;                    // 0 disables the cache
    // Hardening (https://sqlite.org/security.html); docs/security.md tells when to change them.
    bool defensive = true; // SQLITE_DBCONFIG_DEFENSIVE: no writable_schema tricks, no shadow-table writes
    bool trusted_schema = false; // functions with side effects may not run from the schema
    // Permissions of a database file sqlpool creates (plain paths; SQLite gives its -wal and -shm
    // files the same), exactly, whatever the umask; std::nullopt leaves it to SQLite (0644 less
    // the umask).
    std::optional<unsigned> file_mode = 0600;
    std::vector<std::pair<limit, int>> limits; // sqlite3_limit values, e.g. {limit::length, 1'000'000}
    authorizer_function authorizer;            // consulted for every statement prepared
};

// True when `path` names an in-memory database rather than a file: ":memory:", or a URI
// filename whose path is ":memory:" or whose query has mode=memory or vfs=memdb
// (https://sqlite.org/uri.html, https://sqlite.org/inmemorydb.html). A file whose name merely
// contains ":memory:" is a file.
[[nodiscard]] bool is_memory_path(std::string_view path) noexcept;

// The value of query parameter `key` in a URI filename ("file:data.db?mode=ro&cache=shared"),
// or std::nullopt when `path` is not a URI or has no such parameter.
[[nodiscard]] std::optional<std::string_view> uri_parameter(std::string_view path,
                                                            std::string_view key) noexcept;

template <column_type... Ts>
class query_range;
class transaction;

// SQLite's three BEGIN modes (https://sqlite.org/lang_transaction.html).
enum class isolation_level { deferred, immediate, exclusive };

} // namespace sqlpool

namespace sqlpool::detail {
inline constexpr enum_names<isolation_level, 3> isolation_level_names{
    {{isolation_level::deferred, "deferred"},
     {isolation_level::immediate, "immediate"},
     {isolation_level::exclusive, "exclusive"}}};
static_assert(in_enum_order(isolation_level_names));
} // namespace sqlpool::detail

export namespace sqlpool {

[[nodiscard]] constexpr const char* to_string(isolation_level level) noexcept {
    return detail::name_of(detail::isolation_level_names, level);
}

// One SQLite connection. Used by one thread at a time: it is opened with SQLITE_OPEN_NOMUTEX
// ("multi-thread" mode, https://sqlite.org/threadsafe.html), and the pool guarantees exclusivity.
class connection {
public:
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
        check_columns(stmt, 1, sql);
        return stmt.column<T>(0);
    }

    // BEGIN a transaction (https://sqlite.org/lang_transaction.html); without a level, the
    // connection's default_isolation() (a pool sets it from its isolation policy). The transaction
    // must not outlive the connection, nor the lease it came from.
    [[nodiscard]] transaction begin();
    [[nodiscard]] transaction begin(isolation_level level);
    [[nodiscard]] isolation_level default_isolation() const noexcept { return default_isolation_; }
    void set_default_isolation(isolation_level level) noexcept { default_isolation_ = level; }

    // True when a PRAGMA that sets a value ran since the configured settings were applied (the
    // pool restores them when the connection comes back); restore_settings() applies them again.
    [[nodiscard]] bool settings_changed() const noexcept;
    void restore_settings();
    // True when a statement left session state restore_settings() cannot undo (see
    // connection_core::session_taints) since the connection opened or accept_session_state().
    [[nodiscard]] bool session_tainted() const noexcept;
    // Takes the session as it is now as the configured one (after a pool's on_connect, say).
    void accept_session_state() noexcept;

    [[nodiscard]] std::int64_t changes() const;
    [[nodiscard]] std::int64_t last_insert_rowid() const;
    // True while a transaction is open (SQLite is not in autocommit mode).
    [[nodiscard]] bool in_transaction() const;
    // Makes the running statement fail with SQLITE_INTERRUPT. Safe to call from another thread.
    void interrupt() noexcept;
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
    [[nodiscard]] int broken_code() const noexcept { return core_ ? core_->broken_code() : 0; }
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
        if (!stmt.reused()) check_columns(stmt, columns, sql);
        stmt.bind_all(args...);
        return stmt;
    }

    template <column_type... Ts>
    friend class query_range;

    static void check_columns(const statement& stmt, int columns, std::string_view sql) {
        if (stmt.column_count() != columns)
            throw misuse_error("query reads " + std::to_string(columns) +
                               " column(s) but the statement returns " + std::to_string(stmt.column_count()) +
                               " [sql: " + std::string(sql) + "]");
    }

    [[nodiscard]] detail::connection_core& core() const {
        if (!core_) throw misuse_error("use of a moved-from connection");
        return *core_;
    }
    void run_script(std::string_view sql);
    void create_with_mode() const;
    void apply_defaults();
    void apply_settings();
    void pragma(std::string_view name, std::string_view value);

    open_options options_;
    std::shared_ptr<detail::connection_core> core_; // shared with its uncached statements
    isolation_level default_isolation_ = isolation_level::deferred;
};

// The rows of a query: an input view of std::tuple<Ts...>. Copies share one cursor.
template <column_type... Ts>
class query_range : public ::ranges::view_base, public std::ranges::view_base {
    struct cursor {
        statement stmt;
        std::optional<std::tuple<Ts...>> row;
        bool started = false;

        void advance() {
            const bool first = !started;
            started = true;
            if (stmt && stmt.step()) {
                if (first && stmt.reused())
                    connection::check_columns(stmt, static_cast<int>(sizeof...(Ts)), stmt.sql());
                row = read(std::index_sequence_for<Ts...>{});
            } else {
                row.reset();
                stmt = statement{}; // done: hand the statement back to the cache at once
            }
        }
        template <std::size_t... I>
        std::tuple<Ts...> read(std::index_sequence<I...>) {
            return std::tuple<Ts...>{stmt.template column<Ts>(static_cast<int>(I))...};
        }
    };

public:
    class iterator {
    public:
        using value_type = std::tuple<Ts...>;
        using reference = const value_type&;
        using difference_type = std::ptrdiff_t;
        using iterator_concept = std::input_iterator_tag;
        using iterator_category = std::input_iterator_tag;

        iterator() = default;
        reference operator*() const { return *cursor_->row; }
        const value_type* operator->() const { return &*cursor_->row; }
        iterator& operator++() {
            cursor_->advance();
            return *this;
        }
        void operator++(int) { ++*this; }
        friend bool operator==(const iterator& it, std::default_sentinel_t) noexcept {
            return it.cursor_ == nullptr || !it.cursor_->row.has_value();
        }

    private:
        friend class query_range;
        explicit iterator(cursor* c) : cursor_(c) {}
        cursor* cursor_ = nullptr;
    };

    query_range() = default;
    // Steps to the first row at once, so that errors (a wrong column count included) surface here.
    explicit query_range(statement stmt)
        : cursor_(std::make_shared<cursor>(cursor{std::move(stmt), {}, false})) {
        cursor_->advance();
    }

    iterator begin() {
        if (!cursor_) return iterator{};
        if (!cursor_->started) cursor_->advance();
        return iterator{cursor_.get()};
    }
    [[nodiscard]] std::default_sentinel_t end() const noexcept { return {}; }

private:
    std::shared_ptr<cursor> cursor_;
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

} // namespace sqlpool

namespace sqlpool {

namespace {

int open_flags(const open_options& options) {
    int flags = SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_URI | SQLITE_OPEN_EXRESCODE;
    switch (options.mode) {
    case open_mode::read_only:
        flags |= SQLITE_OPEN_READONLY;
        break;
    case open_mode::read_write:
        flags |= SQLITE_OPEN_READWRITE;
        break;
    case open_mode::read_write_create:
        flags |= SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
        break;
    }
    if (options.nofollow) flags |= SQLITE_OPEN_NOFOLLOW;
    return flags;
}

// True when the temp schema holds any object (a table, index, view or trigger), or cannot be read.
bool has_temp_objects(sqlite3* db) noexcept {
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db, "SELECT 1 FROM temp.sqlite_schema LIMIT 1", -1, &stmt, nullptr) != SQLITE_OK)
        return true;
    const int code = sqlite3_step(stmt);
    sqlite3_finalize(stmt);
    return code != SQLITE_DONE;
}

} // namespace

// Shared with other partitions (pool_config::validate() checks what connection will check).
namespace detail {

int limit_id(limit which) {
    switch (which) {
    case limit::length:
        return SQLITE_LIMIT_LENGTH;
    case limit::sql_length:
        return SQLITE_LIMIT_SQL_LENGTH;
    case limit::column:
        return SQLITE_LIMIT_COLUMN;
    case limit::expr_depth:
        return SQLITE_LIMIT_EXPR_DEPTH;
    case limit::compound_select:
        return SQLITE_LIMIT_COMPOUND_SELECT;
    case limit::vdbe_op:
        return SQLITE_LIMIT_VDBE_OP;
    case limit::function_arg:
        return SQLITE_LIMIT_FUNCTION_ARG;
    case limit::attached:
        return SQLITE_LIMIT_ATTACHED;
    case limit::like_pattern_length:
        return SQLITE_LIMIT_LIKE_PATTERN_LENGTH;
    case limit::variable_number:
        return SQLITE_LIMIT_VARIABLE_NUMBER;
    case limit::trigger_depth:
        return SQLITE_LIMIT_TRIGGER_DEPTH;
    case limit::worker_threads:
        return SQLITE_LIMIT_WORKER_THREADS;
    }
    return SQLITE_LIMIT_LENGTH;
}

bool is_identifier(std::string_view text) {
    return !text.empty() && std::ranges::all_of(text, [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
    });
}

bool is_pragma_value(std::string_view text) {
    return !text.empty() && std::ranges::all_of(text, [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
               c == '-' || c == '.';
    });
}

// The one rule for a configured pragma, used by connection and by pool_config::validate(): a
// plain name and a plain value, so that nothing can add a second statement to "PRAGMA name=value".
std::optional<std::string> pragma_problem(std::string_view name, std::string_view value) {
    if (is_identifier(name) && is_pragma_value(value)) return std::nullopt;
    return std::string("pragma '")
        .append(name)
        .append("=")
        .append(value)
        .append("' is not a plain name=value (letters, digits, '_', '-', '.')");
}

} // namespace detail

std::optional<std::string_view> uri_parameter(std::string_view path, std::string_view key) noexcept {
    if (!path.starts_with("file:")) return std::nullopt;
    const auto query_at = path.find('?');
    if (query_at == std::string_view::npos) return std::nullopt;
    std::string_view query = path.substr(query_at + 1);
    query = query.substr(0, query.find('#'));
    while (!query.empty()) {
        const auto end = query.find('&');
        const std::string_view pair = query.substr(0, end);
        const auto equals = pair.find('=');
        if (pair.substr(0, equals) == key)
            return equals == std::string_view::npos ? std::string_view{} : pair.substr(equals + 1);
        if (end == std::string_view::npos) break;
        query.remove_prefix(end + 1);
    }
    return std::nullopt;
}

bool is_memory_path(std::string_view path) noexcept {
    if (path == ":memory:") return true;
    if (!path.starts_with("file:")) return false;
    const std::string_view file = path.substr(5, path.find_first_of("?#") - 5);
    return file == ":memory:" || uri_parameter(path, "mode") == "memory" ||
           uri_parameter(path, "vfs") == "memdb";
}

connection::connection(open_options options) : options_(std::move(options)) {
    if (options_.path.empty())
        throw misuse_error("connection path is empty; use \":memory:\" for an in-memory database");
    for (const auto& [name, value] : options_.pragmas)
        if (auto problem = detail::pragma_problem(name, value)) throw misuse_error(std::move(*problem));
    create_with_mode();
    sqlite3* db = nullptr;
    const int code = sqlite3_open_v2(options_.path.c_str(), &db, open_flags(options_), nullptr);
    // sqlite3_open_v2 allocates a handle even when it fails; core_ owns (and closes) it from here.
    core_ = std::make_shared<detail::connection_core>(db, options_.statement_cache_size);
    core_->restorable_pragmas = {"busy_timeout", "journal_mode", "synchronous", "foreign_keys"};
    for (const auto& [name, value] : options_.pragmas) core_->restorable_pragmas.push_back(name);
    if (db == nullptr) throw sqlite_error(SQLITE_NOMEM, "out of memory opening a connection", "");
    if (code != SQLITE_OK) {
        const int extended = sqlite3_extended_errcode(db);
        std::string message = std::string(sqlite3_errmsg(db)) + " (opening '" + options_.path + "')";
        throw sqlite_error(extended != SQLITE_OK ? extended : code, std::move(message), "");
    }
    apply_defaults();
}

// Creates a missing database file with exactly options_.file_mode, so that SQLite (which creates
// files 0644 less the umask) opens a file only its owner can read. The umask does not narrow a
// mode the user asked for: fchmod sets it as given, as SQLite does for its journals
// (robust_open() in os_unix.c).
void connection::create_with_mode() const {
    if (!options_.file_mode || options_.mode != open_mode::read_write_create ||
        is_memory_path(options_.path) || options_.path.starts_with("file:"))
        return;
    const int flags = O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | (options_.nofollow ? O_NOFOLLOW : 0);
    const int fd = ::open(options_.path.c_str(), flags, static_cast<mode_t>(*options_.file_mode));
    if (fd < 0) return;                                           // other errors surface in sqlite3_open_v2
    (void)::fchmod(fd, static_cast<mode_t>(*options_.file_mode)); // an empty file is an empty database
    ::close(fd);
}

void connection::apply_defaults() {
    sqlite3* db = core_->db();
    // Hardening from https://sqlite.org/security.html: no schema tricks, no extension loading,
    // and functions with side effects are not trusted inside the schema.
    core_->check(sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, options_.defensive ? 1 : 0, nullptr),
                 "DBCONFIG_DEFENSIVE");
    // Two-argument fts3_tokenizer() lets SQL text hand SQLite a function pointer; some builds
    // (Debian's among them) enable it by default
    // (https://sqlite.org/fts3.html#custom_application_defined_tokenizers).
    core_->check(sqlite3_db_config(db, SQLITE_DBCONFIG_ENABLE_FTS3_TOKENIZER, 0, nullptr),
                 "DBCONFIG_ENABLE_FTS3_TOKENIZER");
    core_->check(sqlite3_db_config(db, SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION, 0, nullptr),
                 "DBCONFIG_ENABLE_LOAD_EXTENSION");
    core_->check(
        sqlite3_db_config(db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, options_.trusted_schema ? 1 : 0, nullptr),
        "DBCONFIG_TRUSTED_SCHEMA");
    for (const auto& [which, value] : options_.limits) sqlite3_limit(db, detail::limit_id(which), value);
    core_->user_authorizer = options_.authorizer;
    core_->check(sqlite3_set_authorizer(db, &detail::connection_core::authorize, core_.get()),
                 "set_authorizer");
    core_->check(sqlite3_busy_timeout(db, static_cast<int>(options_.busy_timeout.count())), "busy_timeout");
    core_->watch().attach(db);
    // Reading the schema here surfaces a file that is not a database (NOTADB) at open time.
    (void)query_value<std::int64_t>("PRAGMA schema_version");
    apply_settings();
}

bool connection::settings_changed() const noexcept {
    return core_ && core_->settings_writes() != 0;
}

void connection::restore_settings() {
    apply_settings();
}

bool connection::session_tainted() const noexcept {
    // A database still attached taints too (checked here rather than at ATTACH: VACUUM attaches
    // and detaches one of its own). Index 2 is the first after main and temp.
    if (!core_) return false;
    if (core_->session_taints() != 0 || sqlite3_db_name(core_->db(), 2) != nullptr) return true;
    // After schema was created anywhere (or when statements escaped the authorizer through the raw
    // handle), the temp schema itself says whether a temporary object is left.
    return (core_->schema_writes() != 0 || core_->escaped()) && has_temp_objects(core_->db());
}

void connection::accept_session_state() noexcept {
    if (core_) core_->accept_session();
}

// The session settings a borrower could change with a PRAGMA, applied at open and restored by the
// pool when a borrower changed one.
void connection::apply_settings() {
    sqlite3* db = core().db();
    core_->check(sqlite3_busy_timeout(db, static_cast<int>(options_.busy_timeout.count())), "busy_timeout");
    const bool file_database = !is_memory_path(options_.path) && !read_only();
    if (file_database && options_.journal != journal_mode::unchanged) {
        const auto* const wanted = detail::name_of(detail::journal_mode_names, options_.journal);
        // Switching a new file to WAL needs an exclusive lock for a moment; when another process
        // is doing the same, SQLite can answer SQLITE_BUSY without calling the busy handler. Retry
        // for as long as the busy timeout allows.
        const auto deadline = std::chrono::steady_clock::now() + options_.busy_timeout;
        std::string got;
        for (auto pause = std::chrono::milliseconds(1);;
             pause = std::min(pause * 2, std::chrono::milliseconds(50))) {
            try {
                got = query_value<std::string>(std::string("PRAGMA journal_mode=") + wanted);
                break;
            } catch (const busy_error&) {
                if (std::chrono::steady_clock::now() + pause >= deadline) throw;
                std::this_thread::sleep_for(pause);
            }
        }
        if (got != wanted)
            throw sqlite_error(SQLITE_ERROR, "journal_mode stayed '" + got + "', wanted '" + wanted + "'",
                               std::string("PRAGMA journal_mode=") + wanted);
    }
    if (options_.synchronous != synchronous_mode::unchanged)
        pragma("synchronous", detail::name_of(detail::synchronous_mode_names, options_.synchronous));
    pragma("foreign_keys", options_.foreign_keys ? "ON" : "OFF");
    for (const auto& [name, value] : options_.pragmas) pragma(name, value);
    core_->settings_applied();
}

void connection::pragma(std::string_view name, std::string_view value) {
    exec("PRAGMA " + std::string(name) + "=" + std::string(value));
}

statement connection::prepare(std::string_view sql) {
    bool is_script = false;
    statement stmt = core().checkout(sql, is_script);
    if (is_script)
        throw misuse_error("prepare() takes one statement, got several; use exec() for scripts [sql: " +
                           std::string(sql) + "]");
    if (!stmt) throw misuse_error("prepare() got no statement [sql: " + std::string(sql) + "]");
    return stmt;
}

void connection::run_script(std::string_view sql) {
    sqlite3* db = core().db();
    while (!sql.empty()) {
        sqlite3_stmt* raw = nullptr;
        const char* tail = nullptr;
        const int code = sqlite3_prepare_v2(db, sql.data(), static_cast<int>(sql.size()), &raw, &tail);
        if (code != SQLITE_OK) core_->fail(code, sql);
        const std::unique_ptr<sqlite3_stmt, int (*)(sqlite3_stmt*)> owned(raw, &sqlite3_finalize);
        const auto consumed = static_cast<std::size_t>(tail - sql.data());
        if (raw != nullptr) {
            int step = SQLITE_ROW;
            while (step == SQLITE_ROW) step = sqlite3_step(raw);
            core_->after_step(raw);
            if (step != SQLITE_DONE) core_->fail(step, sqlite3_sql(raw));
        }
        if (consumed == 0) break;
        sql.remove_prefix(consumed);
    }
}

std::int64_t connection::changes() const {
    return sqlite3_changes64(core().db());
}
std::int64_t connection::last_insert_rowid() const {
    return sqlite3_last_insert_rowid(core().db());
}
bool connection::in_transaction() const {
    return sqlite3_get_autocommit(core().db()) == 0;
}
const char* connection::filename() const {
    const char* name = sqlite3_db_filename(core().db(), "main");
    return name != nullptr ? name : "";
}

bool connection::read_only() const {
    return sqlite3_db_readonly(core().db(), "main") == 1;
}

void connection::interrupt() noexcept {
    if (core_) sqlite3_interrupt(core_->db());
}

std::size_t connection::reset_all_statements() noexcept {
    if (!core_ || !core_->may_have_busy_statements()) return 0;
    std::size_t reset = 0;
    for (sqlite3_stmt* stmt = sqlite3_next_stmt(core_->db(), nullptr); stmt != nullptr;
         stmt = sqlite3_next_stmt(core_->db(), stmt)) {
        if (sqlite3_stmt_busy(stmt) != 0) {
            sqlite3_reset(stmt);
            ++reset;
        }
    }
    return reset;
}

std::size_t connection::busy_statement_count() const noexcept {
    if (!core_) return 0;
    std::size_t busy = 0;
    for (sqlite3_stmt* stmt = sqlite3_next_stmt(core_->db(), nullptr); stmt != nullptr;
         stmt = sqlite3_next_stmt(core_->db(), stmt))
        busy += sqlite3_stmt_busy(stmt) != 0 ? 1 : 0;
    return busy;
}

} // namespace sqlpool
