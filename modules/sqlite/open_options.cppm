// open_options: how a connection is opened and set up (modes, pragmas, limits, hardening, an
// authorizer), the names of its enums, and SQLite's BEGIN modes.
module;
#include "../detail/gmf.hpp"
export module sqlpool:open_options;
import :names;

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

// Shared with other partitions (pool_config::validate() checks what connection will check).
// The SQLITE_LIMIT_* code of `which`.
[[nodiscard]] int limit_id(limit which);
// The one rule for a configured pragma, used by connection and by pool_config::validate(): a
// plain name and a plain value, so that nothing can add a second statement to "PRAGMA name=value".
[[nodiscard]] std::optional<std::string> pragma_problem(std::string_view name, std::string_view value);

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

} // namespace sqlpool
