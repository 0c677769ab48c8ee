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

std::vector<std::string> missing_schema(connection& conn, std::span<const table_spec> tables) {
    std::vector<std::string> missing;
    for (const auto& table : tables) {
        // to_regclass: https://www.postgresql.org/docs/15/functions-info.html (NULL when not found)
        const auto columns = conn.query<std::string>(
            "SELECT a.attname::text FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid "
            "WHERE c.oid = to_regclass($1) AND c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT "
            "a.attisdropped",
            table.name);
        if (columns.empty() && !conn.query_value<bool>("SELECT EXISTS (SELECT 1 FROM pg_class WHERE oid = "
                                                       "to_regclass($1) AND relkind IN ('r', 'p'))",
                                                       table.name)) {
            missing.push_back("table '" + table.name + "'");
            continue;
        }
        for (const auto& column : table.columns) {
            std::string folded = column;
            std::ranges::transform(folded, folded.begin(), [](char ch) {
                return ch >= 'A' && ch <= 'Z' ? static_cast<char>(ch - 'A' + 'a') : ch;
            });
            const auto has = [&](const std::tuple<std::string>& row) {
                return std::get<0>(row) == column || std::get<0>(row) == folded;
            };
            if (std::ranges::none_of(columns, has))
                missing.push_back("column '" + table.name + "." + column + "'");
        }
    }
    return missing;
}

} // namespace sqlpool::postgres
