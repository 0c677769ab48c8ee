// sqlpool-load: the main job. Runs a concurrent read/write workload on a database file through a
// pool and reports what happened. The flags are in options.hpp, the SQLite backend in sqlite.cpp,
// the workload and the report in workload.hpp.
#include <exception>
#include <filesystem>
#include <iostream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <unistd.h>

#include "backends.hpp"
#include "options.hpp"

import sqlpool;

namespace {

std::string default_database() {
    return (std::filesystem::temp_directory_path() / ("sqlpool-load-" + std::to_string(::getpid()) + ".db"))
        .string();
}

// The flags' pool settings, then --config over them (its notes on stderr). Throws config_error.
sqlpool::database_options read_config(const load::options& o) {
    sqlpool::database_options options{.pool = {
                                          .database = o.database,
                                          .min_connections = o.min_connections,
                                          .max_connections = o.max_connections,
                                      }};
    if (!o.config.empty()) {
        const auto mode = o.lenient_config ? sqlpool::config_mode::lenient : sqlpool::config_mode::strict;
        auto read = sqlpool::database_options::parse_with_notes(o.config, mode, options);
        for (const auto& note : read.notes) std::cerr << "sqlpool-load: note: " << note << '\n';
        options = std::move(read.options);
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
        if (o.database.empty()) o.database = default_database();
        options = read_config(o);
    } catch (const load::usage_error& e) {
        std::cerr << "sqlpool-load: " << e.what() << '\n';
        return 2;
    } catch (const sqlpool::config_error& e) {
        std::cerr << "sqlpool-load: " << e.what() << '\n';
        return 2;
    }
    try {
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
