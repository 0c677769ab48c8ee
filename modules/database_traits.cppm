// database_traits: what the database service and the pool manager need of a database beyond its
// sessions, one specialization per session source. SQLite's is here; sqlpool.postgres has its own.
module;
#include "detail/gmf.hpp"
export module sqlpool:database_traits;
import :errors;
import :deadline;
import :sqlite;
import :config;
import :sqlite_source;
import :service_options;
import :service_health;

export namespace sqlpool {

// database_traits<Source>, for a pool whose sessions come from Source:
//   connection_type         what read() and write() hand to the caller's function
//   key(database)           the name every spelling of one database shares (the manager's key)
//   describe(database)      the database for messages, without secrets
//   prepare(config, create) the config the service opens its pool with; schema_error when the
//                           database is missing and may not be created
//   write(pool, limit, fn, where), read(...)   the pool's transaction runner
//   exec(conn, sql, args...) -> rows changed; query<Ts...>(conn, sql, args...) -> every row
//   schema_version(pool)    the version the database records (0: none)
//   migrate(pool, migrations, database)   applies the pending ones, each once even when several
//                           processes start together; schema_error for a newer database
//   missing(pool, tables)   the declared tables and columns the database lacks, named
//   watched(pool)           the file health() watches (an unknown identity: none)
// A source without a specialization cannot be used by the service or the manager.
template <class Source>
struct database_traits;

} // namespace sqlpool

namespace sqlpool::detail {

// Every spelling of one file (relative, `./`, `..`, symlinks) as one absolute path, resolved as far
// as the path exists and normalised lexically beyond; in-memory databases and URIs keep their name.
[[nodiscard]] std::string canonical_database(const std::string& database);

// The SQLite migration step, inside its write transaction: applies `m` unless PRAGMA user_version
// has it already; a busy_error passes through for write() to retry. True when applied.
bool apply_sqlite_migration(connection& c, const migration& m);

// The declared tables and columns that `c`'s main schema lacks, named ("table 't'", "column 't.c'").
[[nodiscard]] std::vector<std::string> missing_sqlite_schema(connection& c,
                                                             std::span<const table_spec> tables);

} // namespace sqlpool::detail

export namespace sqlpool {

template <>
struct database_traits<sqlite_source> {
    using connection_type = connection;

    [[nodiscard]] static std::string key(const std::string& database) {
        return detail::canonical_database(database);
    }
    [[nodiscard]] static const std::string& describe(const std::string& database) noexcept {
        return database;
    }

    // Not allowed to create: a file that is not there is a schema_error, and the pool opens
    // without SQLITE_OPEN_CREATE so that a file deleted meanwhile is not created either.
    [[nodiscard]] static pool_config prepare(pool_config config, bool create_if_missing) {
        if (create_if_missing) return config;
        if (!is_memory_path(config.database) && !std::filesystem::exists(config.database))
            throw schema_error("database file '" + config.database +
                               "' does not exist and creating it is not allowed");
        if (config.mode == open_mode::read_write_create) config.mode = open_mode::read_write;
        return config;
    }

    template <class Pool, class F>
    static auto write(Pool& p, const deadline& limit, F&& fn, std::source_location where) {
        return p.write(limit, std::forward<F>(fn), where);
    }
    template <class Pool, class F>
    static auto read(Pool& p, const deadline& limit, F&& fn, std::source_location where) {
        return p.read(limit, std::forward<F>(fn), where);
    }

    template <bindable... Args>
    static std::int64_t exec(connection& c, std::string_view sql, const Args&... args) {
        c.exec(sql, args...);
        return c.changes();
    }
    template <column_type... Ts, bindable... Args>
    static std::vector<std::tuple<Ts...>> query(connection& c, std::string_view sql, const Args&... args) {
        std::vector<std::tuple<Ts...>> rows;
        for (auto& row : c.template query<Ts...>(sql, args...)) rows.push_back(row);
        return rows;
    }

    template <class Pool>
    [[nodiscard]] static int schema_version(Pool& p) {
        return p.read([](connection& c) { return user_version(c); });
    }

    // Each pending migration in its own write() transaction (IMMEDIATE), re-reading the version
    // inside it, so that two processes starting on one new file apply each migration exactly once.
    template <class Pool>
    static void migrate(Pool& p, std::span<const migration> migrations, const std::string& database) {
        const int newest = migrations.empty() ? 0 : migrations.back().version;
        if (const int found = schema_version(p); found > newest)
            throw schema_error("database '" + database + "' has schema version " + std::to_string(found) +
                               ", newer than the " + std::to_string(newest) +
                               " this program knows; refusing to start");
        for (const auto& m : migrations)
            p.write([&](connection& c) { detail::apply_sqlite_migration(c, m); });
    }

    template <class Pool>
    [[nodiscard]] static std::vector<std::string> missing(Pool& p, std::span<const table_spec> tables) {
        auto conn = p.acquire();
        return detail::missing_sqlite_schema(*conn, tables);
    }

    // The file as SQLite resolved its name, and what it is.
    template <class Pool>
    [[nodiscard]] static watched_file watched(Pool& p) {
        auto conn = p.acquire();
        return {conn->filename(), conn->identity()};
    }

private:
    static int user_version(connection& c) {
        return static_cast<int>(c.query_value<std::int64_t>("PRAGMA user_version"));
    }
};

} // namespace sqlpool
