// sqlpool-load's command line: every flag, its default, and a parser that names what is wrong.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace load {

// Where the workload runs: a SQLite file, or a PostgreSQL server (through sqlpool.postgres).
enum class backend { sqlite, postgres };

// Whether this build has the PostgreSQL backend (CMake: SQLPOOL_WITH_POSTGRES).
#ifdef SQLPOOL_LOAD_POSTGRES
inline constexpr bool postgres_built = true;
#else
inline constexpr bool postgres_built = false;
#endif

struct options {
    load::backend backend = load::backend::sqlite;
    std::string database;         // SQLite; empty: a new file in the temp dir
    std::string conninfo;         // PostgreSQL: the server (a libpq conninfo)
    std::string standby_conninfo; // PostgreSQL, policy split: the standby that serves reads
    unsigned threads = 8;
    std::chrono::milliseconds duration{5000};
    std::uint64_t operations = 0; // 0: run for `duration`
    double read_ratio = 0.8;
    std::uint64_t rows = 10'000;
    std::size_t min_connections = 2;
    std::size_t max_connections = 4;
    std::string policy = "default";
    std::string config;          // database_options::parse text, applied over the flags above
    bool lenient_config = false; // unknown keys in `config` are notes, not errors
    bool json = false;
    bool runner = true; // through pool.read()/write(), else acquire + explicit transactions
    bool progress = true;
    bool help = false;
};

struct usage_error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

inline constexpr std::string_view policy_names[] = {"default", "fast", "checked", "split"};

inline const char* help_text() {
    return R"(usage: sqlpool-load [FLAGS]

Runs a concurrent read/write workload through a sqlpool pool, on a SQLite database file or a
PostgreSQL server, and reports what happened: throughput, acquire waits, every pool statistic,
and whether the data is intact.

  --backend NAME         sqlite (default) or postgres (sqlpool.postgres, through libpq)
  --database PATH        SQLite: the database file (default: a new file in the temp dir; its path
                         is printed)
  --conninfo TEXT        PostgreSQL, required: the server, as a libpq conninfo or URI, e.g.
                         "host=127.0.0.1 port=5432 dbname=app user=app"
  --standby-conninfo TEXT
                         PostgreSQL with --policy split, required there: the standby that serves
                         the reads (the primary serves them when no standby answers)
  --threads N            worker threads, 1..1024 (default 8)
  --duration TIME        how long to run, e.g. 500ms, 5s, 2m (default 5s)
  --operations N         stop after N operations in total instead (default 0: use --duration)
  --read-ratio R         fraction of operations that are reads, 0..1 (default 0.8)
  --rows N               rows in the table, created when missing, 1..100000000 (default 10000)
  --min-connections N    pool's min_connections (default 2)
  --max-connections N    pool's max_connections (default 4)
  --policy NAME          stock policy set (default: default):
                           default  std_mutex locking, ping health, standard recycling
                           fast     spin locking, no health check, never recycle
                           checked  std_mutex, ping + file_identity health, standard recycling
                                    (SQLite only: a server has no file to check)
                           split    SQLite: one writer connection for write(), query_only readers;
                                    PostgreSQL: writes on the primary (--conninfo), reads on the
                                    standby (--standby-conninfo), two pools
  --via WAY              runner: through read() and write(), which retry on SQLITE_BUSY, and on
                         PostgreSQL on serialization failures, deadlocks and lost connections
                         direct: acquire() + BEGIN / COMMIT by hand (SQLite: BEGIN IMMEDIATE)
                         (default: runner)
  --config TEXT          more settings as key=value pairs, over the flags above, e.g.
                         "busy_timeout=1s connection_max_age=5m pragma.cache_size=-8000"
                         (any pool_config field; durations take ms, s, m or h, and a bare
                         number is seconds), and the
                         database service's: create_if_missing=false (a missing file is an
                         error), migrations=DIR (NNNN_description.sql files, applied first),
                         table.NAME=COLUMN,... (checked after migrating).
                         PostgreSQL takes the pool's keys (sizes, timeouts, ages, max_uses,
                         statement_cache_size, maintenance) and refuses the SQLite-only ones:
                         database, mode, busy_timeout, nofollow, journal, synchronous,
                         foreign_keys, defensive, trusted_schema, file_mode, checkpoints,
                         wal_soft_limit, wal_hard_limit, reader_gap, read_transaction_limit,
                         optimize, idle_upkeep_after, pragma.NAME, limit.NAME and the service's
                         keys (session settings go in the conninfo: options='-c name=value')
  --lenient-config       unknown keys in --config (and, with postgres, SQLite-only keys) are
                         printed as notes and ignored (a configuration shared with other
                         programs) instead of refused
  --json                 print the final report as one JSON object (pool figures included)
  --no-progress          no live progress line (it is shown only on a terminal anyway)
  --help                 this text

The table is accounts(id, counter), rows 1..N. A read is a point SELECT by primary key; a write
is a transaction that adds one to one row's counter. At the end the sum of all counters must
have grown by the number of acknowledged writes. On PostgreSQL a COMMIT whose answer was lost
(commit_unknown_error) may or may not have committed: those are counted apart, and the sum may
grow by up to that many more; the rows are counted instead of SQLite's PRAGMA integrity_check.
Nothing else may write to the table during a run.
Exit status: 0 on success, 1 when the run found a problem, 2 on a bad flag or configuration.
)";
}

namespace detail {

inline std::uint64_t parse_count(std::string_view flag, std::string_view text, std::uint64_t low,
                                 std::uint64_t high) {
    std::uint64_t value = 0;
    if (text.empty()) throw usage_error(std::string(flag) + " needs a number");
    for (char c : text) {
        if (c < '0' || c > '9')
            throw usage_error(std::string(flag) + ": '" + std::string(text) + "' is not a whole number");
        if (value > (UINT64_MAX - 9) / 10)
            throw usage_error(std::string(flag) + ": '" + std::string(text) + "' is too large");
        value = value * 10 + static_cast<std::uint64_t>(c - '0');
    }
    if (value < low || value > high)
        throw usage_error(std::string(flag) + " is " + std::string(text) + ", must be within " +
                          std::to_string(low) + ".." + std::to_string(high));
    return value;
}

inline std::chrono::milliseconds parse_duration(std::string_view flag, std::string_view text) {
    std::size_t digits = 0;
    while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') ++digits;
    const std::string_view unit = text.substr(digits);
    const std::uint64_t number = parse_count(flag, text.substr(0, digits), 1, 1'000'000'000);
    std::uint64_t scale = 0;
    if (unit == "ms")
        scale = 1;
    else if (unit == "s" || unit.empty())
        scale = 1000;
    else if (unit == "m")
        scale = 60'000;
    else if (unit == "h")
        scale = 3'600'000;
    else
        throw usage_error(std::string(flag) + ": unknown unit '" + std::string(unit) +
                          "' (use ms, s, m or h)");
    return std::chrono::milliseconds(static_cast<std::int64_t>(number * scale));
}

inline double parse_ratio(std::string_view flag, std::string_view text) {
    std::size_t used = 0;
    double value = 0;
    try {
        value = std::stod(std::string(text), &used);
    } catch (const std::exception&) {
        used = 0;
    }
    if (used == 0 || used != text.size())
        throw usage_error(std::string(flag) + ": '" + std::string(text) + "' is not a number");
    // Written so that NaN fails too. NOLINTNEXTLINE(readability-simplify-boolean-expr)
    if (!(value >= 0.0 && value <= 1.0))
        throw usage_error(std::string(flag) + " is " + std::string(text) + ", must be within 0..1");
    return value;
}

inline backend parse_backend(std::string_view name) {
    if (name == "sqlite") return backend::sqlite;
    if (name == "postgres") {
        if (!postgres_built)
            throw usage_error("--backend postgres: this sqlpool-load was built without PostgreSQL "
                              "(configure with -DSQLPOOL_WITH_POSTGRES=ON)");
        return backend::postgres;
    }
    throw usage_error("--backend: unknown backend '" + std::string(name) + "' (use sqlite or postgres)");
}

// The flags that name where the workload runs, and the policy sets, must fit the backend.
inline void check_backend_flags(const options& o) {
    if (o.backend == backend::sqlite) {
        if (!o.conninfo.empty() || !o.standby_conninfo.empty())
            throw usage_error(std::string(!o.conninfo.empty() ? "--conninfo" : "--standby-conninfo") +
                              " names a PostgreSQL server: add --backend postgres (SQLite takes --database)");
        return;
    }
    if (!o.database.empty())
        throw usage_error("--database names a SQLite file: with --backend postgres the server is named by "
                          "--conninfo");
    if (o.conninfo.empty())
        throw usage_error("--backend postgres needs --conninfo, the server as a libpq conninfo "
                          "(e.g. \"host=127.0.0.1 port=5432 dbname=app\")");
    if (o.policy == "checked")
        throw usage_error(
            "--policy checked adds file_identity, a check of the SQLite file, which a "
            "PostgreSQL server does not have: with --backend postgres use default, fast or split");
    if (o.policy == "split" && o.standby_conninfo.empty())
        throw usage_error("--policy split with --backend postgres needs --standby-conninfo, the standby "
                          "that serves the reads");
    if (o.policy != "split" && !o.standby_conninfo.empty())
        throw usage_error("--standby-conninfo serves the reads of --policy split only (add --policy split)");
}

// A flag without a value; false when `flag` is not one.
inline bool set_switch(options& o, std::string_view flag) {
    if (flag == "--help" || flag == "-h")
        o.help = true;
    else if (flag == "--json")
        o.json = true;
    else if (flag == "--no-progress")
        o.progress = false;
    else if (flag == "--lenient-config")
        o.lenient_config = true;
    else
        return false;
    return true;
}

// A flag with a number; false when `flag` is not one.
inline bool set_number(options& o, std::string_view flag, std::string_view value) {
    if (flag == "--threads")
        o.threads = static_cast<unsigned>(parse_count(flag, value, 1, 1024));
    else if (flag == "--duration")
        o.duration = parse_duration(flag, value);
    else if (flag == "--operations")
        o.operations = parse_count(flag, value, 0, UINT64_MAX / 2);
    else if (flag == "--read-ratio")
        o.read_ratio = parse_ratio(flag, value);
    else if (flag == "--rows")
        o.rows = parse_count(flag, value, 1, 100'000'000);
    else if (flag == "--min-connections")
        o.min_connections = parse_count(flag, value, 0, 100'000);
    else if (flag == "--max-connections")
        o.max_connections = parse_count(flag, value, 1, 100'000);
    else
        return false;
    return true;
}

// A flag with text that may not be empty; false when `flag` is not one.
inline bool set_text(options& o, std::string_view flag, std::string_view value) {
    std::string* into = nullptr;
    if (flag == "--database")
        into = &o.database;
    else if (flag == "--conninfo")
        into = &o.conninfo;
    else if (flag == "--standby-conninfo")
        into = &o.standby_conninfo;
    else
        return false;
    if (value.empty())
        throw usage_error(std::string(flag) + (flag == "--database" ? " needs a path" : " needs a conninfo"));
    *into = std::string(value);
    return true;
}

// A flag with a choice or free text; false when `flag` is not one.
inline bool set_choice(options& o, std::string_view flag, std::string_view value) {
    if (flag == "--backend") {
        o.backend = parse_backend(value);
    } else if (flag == "--policy") {
        o.policy = std::string(value);
        bool known = false;
        for (auto name : policy_names) known = known || name == o.policy;
        if (!known)
            throw usage_error("--policy: unknown policy set '" + o.policy +
                              "' (use default, fast, checked or split)");
    } else if (flag == "--config") {
        o.config = std::string(value);
    } else if (flag == "--via") {
        if (value != "runner" && value != "direct")
            throw usage_error("--via: unknown way '" + std::string(value) + "' (use runner or direct)");
        o.runner = value == "runner";
    } else {
        return false;
    }
    return true;
}

inline constexpr std::string_view flags_with_values[] = {
    "--backend",    "--database",   "--conninfo", "--standby-conninfo", "--threads",         "--duration",
    "--operations", "--read-ratio", "--rows",     "--min-connections",  "--max-connections", "--policy",
    "--config",     "--via"};

} // namespace detail

// Parses argv; throws usage_error naming the flag and what is wrong with it.
inline options parse(const std::vector<std::string_view>& args) {
    options o;
    for (std::size_t i = 0; i < args.size(); ++i) {
        const std::string_view arg = args[i];
        std::string_view flag = arg;
        std::optional<std::string_view> inline_value;
        if (const auto eq = flag.find('='); flag.starts_with("--") && eq != std::string_view::npos) {
            inline_value = flag.substr(eq + 1);
            flag = flag.substr(0, eq);
        }
        if (detail::set_switch(o, flag)) {
            if (inline_value) throw usage_error(std::string(flag) + " takes no value");
            continue;
        }
        if (std::ranges::find(detail::flags_with_values, flag) == std::end(detail::flags_with_values))
            throw usage_error("unknown flag '" + std::string(arg) + "' (see --help)");
        if (!inline_value && i + 1 >= args.size()) throw usage_error(std::string(flag) + " needs a value");
        const std::string_view value = inline_value ? *inline_value : args[++i];
        if (!detail::set_number(o, flag, value) && !detail::set_text(o, flag, value) &&
            !detail::set_choice(o, flag, value))
            throw usage_error("unknown flag '" + std::string(arg) + "' (see --help)");
    }
    if (!o.help) detail::check_backend_flags(o);
    return o;
}

} // namespace load
