// The SQLite database_traits' out-of-line parts, behind the declarations of database_traits.cppm.
module;
#include "detail/gmf.hpp"
module sqlpool;

namespace sqlpool::detail {

std::string canonical_database(const std::string& database) {
    if (is_memory_path(database) || database.starts_with("file:")) return database;
    std::error_code error;
    auto path = std::filesystem::weakly_canonical(std::filesystem::absolute(database, error), error);
    if (error) return std::filesystem::absolute(database).lexically_normal().string();
    return path.string();
}

bool apply_sqlite_migration(connection& c, const migration& m) {
    if (c.query_value<std::int64_t>("PRAGMA user_version") >= m.version) return false; // applied already
    try {
        c.exec(m.sql);
        c.exec("PRAGMA user_version = " + std::to_string(m.version));
    } catch (const busy_error&) {
        throw;
    } catch (const sqlite_error& e) {
        throw schema_error("migration " + std::to_string(m.version) + " (" + m.description +
                           ") failed and was rolled back: " + e.sqlite_message());
    }
    return true;
}

std::vector<std::string> missing_sqlite_schema(connection& c, std::span<const table_spec> tables) {
    std::vector<std::string> missing;
    for (const auto& table : tables) {
        const auto exists = c.query_value<std::int64_t>(
            "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = ?", table.name);
        if (exists == 0) {
            missing.push_back("table '" + table.name + "'");
            continue;
        }
        std::vector<std::string> columns;
        for (const auto& [name] : c.query<std::string>("SELECT name FROM pragma_table_info(?)", table.name))
            columns.push_back(name);
        for (const auto& column : table.columns)
            if (std::ranges::find(columns, column) == columns.end())
                missing.push_back("column '" + table.name + "." + column + "'");
    }
    return missing;
}

} // namespace sqlpool::detail
