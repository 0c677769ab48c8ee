// sqlpool-load: the main job. Runs a concurrent read/write workload through a pool, on a SQLite
// database file or a PostgreSQL server, and reports what happened. The flags are in options.hpp,
// the backends in sqlite.cpp and postgres.cpp, what they share in workload.hpp.
#include <exception>
#include <filesystem>
#include <iostream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <unistd.h>

#include "backends.hpp"
#include "config_keys.hpp"
#include "options.hpp"

import sqlpool;

namespace {

std::string default_database() {
    return (std::filesystem::temp_directory_path() / ("sqlpool-load-" + std::to_string(::getpid()) + ".db"))
        .string();
}

// With --backend postgres, the keys of --config that only SQLite has are refused (usage_error),
// or with --lenient-config ignored with a note each.
void check_postgres_keys(const load::options& o) {
    const auto keys = load::sqlite_only_keys_in(o.config);
    if (keys.empty()) return;
    if (o.lenient_config) {
        for (const auto& key : keys)
            std::cerr << "sqlpool-load: note: '" << key
                      << "' is SQLite-only, ignored with --backend postgres\n";
        return;
    }
    std::string list;
    for (const auto& key : keys) list += (list.empty() ? "'" : ", '") + key + "'";
    throw load::usage_error("--config: " + list + (keys.size() == 1 ? " is" : " are") +
                            " SQLite-only, refused with --backend postgres (a PostgreSQL pool takes the "
                            "pool's keys; session settings go in --conninfo: options='-c name=value'; "
                            "--lenient-config ignores them)");
}

// The flags' pool settings, then --config over them (its notes on stderr). The pool's database is
// the file, or with postgres the conninfo. Throws usage_error or config_error.
sqlpool::database_options read_config(const load::options& o) {
    const bool postgres = o.backend == load::backend::postgres;
    sqlpool::database_options options{.pool = {
                                          .database = postgres ? o.conninfo : o.database,
                                          .min_connections = o.min_connections,
                                          .max_connections = o.max_connections,
                                      }};
    if (!o.config.empty()) {
        if (postgres) check_postgres_keys(o);
        const auto mode = o.lenient_config ? sqlpool::config_mode::lenient : sqlpool::config_mode::strict;
        auto read = sqlpool::database_options::parse_with_notes(o.config, mode, options);
        for (const auto& note : read.notes) std::cerr << "sqlpool-load: note: " << note << '\n';
        options = std::move(read.options);
        if (postgres) options.pool.database = o.conninfo; // a `database` key ignored by --lenient-config
    }
    options.pool.check();
    return options;
}

} // namespace

int main(int argc, char** argv) {
    load::options o;
    sqlpool::database_options options;
    try {
        o = load::parse(std::vector<std::string_view>(argv + 1, argv + argc));
        if (o.help) {
            std::cout << load::help_text();
            return 0;
        }
        if (o.backend == load::backend::sqlite && o.database.empty()) o.database = default_database();
        options = read_config(o);
    } catch (const load::usage_error& e) {
        std::cerr << "sqlpool-load: " << e.what() << '\n';
        return 2;
    } catch (const sqlpool::config_error& e) {
        std::cerr << "sqlpool-load: " << e.what() << '\n';
        return 2;
    }
    try {
        if constexpr (load::postgres_built) {
            if (o.backend == load::backend::postgres) return load::run_postgres(o, options.pool);
        }
        o.database = options.pool.database;
        return load::run_sqlite(o, options);
    } catch (const sqlpool::config_error& e) {
        std::cerr << "sqlpool-load: " << e.what() << '\n';
        return 2;
    } catch (const std::exception& e) {
        std::cerr << "sqlpool-load: " << e.what() << '\n';
        return 1;
    }
}
