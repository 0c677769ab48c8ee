// migrations on PostgreSQL: sqlpool's `migration` list applied to a server database. The version
// lives in a table (sqlpool_schema), and each migration runs in its own transaction under a
// transaction-scoped advisory lock (pg_advisory_xact_lock,
// https://www.postgresql.org/docs/15/explicit-locking.html#ADVISORY-LOCKS), so that processes
// starting together apply each migration exactly once.
module;
#include "gmf.hpp"
export module sqlpool.postgres:migrations;
import sqlpool;
import :connection;
import :runner;

export namespace sqlpool::postgres {

// The advisory lock key the migrations take (any other user of that key waits for them).
inline constexpr std::int64_t migration_lock_key = 0x73716c706f6f6c; // "sqlpool"

// The schema version the database records; 0 when it records none.
[[nodiscard]] int schema_version(connection& conn);

// The declared tables and columns that the database lacks, named as sqlpool's service does
// ("table 't'", "column 't.c'"). A name is looked up as an unquoted SQL identifier would be
// (to_regclass: on the search_path, folded to lower case unless written in double quotes); a
// column matches its declared name or that name in lower case. Only tables count (not views).
[[nodiscard]] std::vector<std::string> missing_schema(connection& conn, std::span<const table_spec> tables);

// Inside a write transaction: takes the migration lock, then applies `m` unless the recorded
// version is at least m.version. schema_error when its SQL fails (the transaction rolls back);
// serialization and connection errors pass through for the runner to retry. True when applied.
bool apply_migration(connection& conn, const migration& m);

// Applies each migration of `migrations` (ascending versions) newer than the database's, each in
// its own postgres::write() transaction; schema_error when the database records a version newer
// than the newest known (nothing is applied then). Returns how many this call applied.
template <class Pool>
int migrate(Pool& pool, std::span<const migration> migrations) {
    const int newest = migrations.empty() ? 0 : migrations.back().version;
    const int found = postgres::read(pool, [](connection& conn) { return schema_version(conn); });
    if (found > newest)
        throw schema_error("the database has schema version " + std::to_string(found) + ", newer than the " +
                           std::to_string(newest) + " this program knows; refusing to migrate");
    int applied = 0;
    for (const migration& m : migrations)
        if (postgres::write(pool, [&](connection& conn) { return apply_migration(conn, m); })) ++applied;
    return applied;
}

} // namespace sqlpool::postgres
