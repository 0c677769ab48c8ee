// schema_version and apply_migration (see :migrations).
module;
#include "gmf.hpp"
module sqlpool.postgres;
import sqlpool;

namespace sqlpool::postgres {

int schema_version(connection& conn) {
    if (!conn.query_value<bool>("SELECT to_regclass('sqlpool_schema') IS NOT NULL")) return 0;
    const auto version = conn.query_one<int>("SELECT version FROM sqlpool_schema WHERE id = 1");
    return version ? std::get<0>(*version) : 0;
}

bool apply_migration(connection& conn, const migration& m) {
    // The lock first: two sessions creating the table at once could both fail otherwise.
    (void)conn.run("SELECT pg_advisory_xact_lock($1)", migration_lock_key);
    conn.exec("CREATE TABLE IF NOT EXISTS sqlpool_schema (id int PRIMARY KEY CHECK (id = 1), version int NOT "
              "NULL)");
    if (schema_version(conn) >= m.version) return false; // applied already, by this process or another
    try {
        conn.exec(m.sql);
    } catch (const serialization_error&) {
        throw;
    } catch (const connection_lost_error&) {
        throw;
    } catch (const server_error& e) {
        throw schema_error("migration " + std::to_string(m.version) + " (" + m.description +
                           ") failed and was rolled back: " + e.sqlstate() + " " + e.server_message());
    }
    conn.exec(
        "INSERT INTO sqlpool_schema VALUES (1, $1) ON CONFLICT (id) DO UPDATE SET version = EXCLUDED.version",
        m.version);
    return true;
}

} // namespace sqlpool::postgres
