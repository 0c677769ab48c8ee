// The tutorial's service chapter, as a program that is built and run as a test: a database with a
// two-step schema, started, used, and stopped. Laid out as in docs/tutorial.md:
// clang-format off
#include <cstdint>
#include <filesystem>
#include <exception>
#include <iostream>
#include <string>
#include <tuple>

import sqlpool;

int main() try {
    const auto path = (std::filesystem::temp_directory_path() / "sqlpool-service.db").string();
    std::filesystem::remove(path);

    sqlpool::database db{sqlpool::database_options{
        .pool = {.database = path, .max_connections = 8},
        .schema = {
            .migrations = {
                {1, "create users", "CREATE TABLE users(id INTEGER PRIMARY KEY, name TEXT NOT NULL)"},
                {2, "add email", "ALTER TABLE users ADD COLUMN email TEXT; CREATE INDEX users_email ON users(email)"},
            },
            .tables = {{"users", {"id", "name", "email"}}},
        },
    }};
    db.start();
    db.exec("INSERT INTO users(name, email) VALUES(?, ?)", "ada", "ada@example.org");
    auto rows = db.query<std::string>("SELECT name FROM users");
    std::cout << "schema version " << db.schema_version() << ", " << rows.size() << " user(s): " << std::get<0>(rows[0])
              << '\n';
    db.stop();
    return db.state() == sqlpool::service_state::stopped && rows.size() == 1 ? 0 : 1;
} catch (const std::exception& e) {
    std::cerr << "service: " << e.what() << '\n';
    return 1;
}
