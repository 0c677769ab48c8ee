// The tutorial's configuration file format, as a program that is built and run as a test: a
// configuration text (what a deployment keeps in a file) and a migrations directory, written to a
// temp dir; the database service parsed from them, started, used, stopped; then a newer directory
// with one more migration, which the next start applies alone.
// clang-format off
#include <cstdint>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <system_error>
#include <tuple>

#include <unistd.h>

import sqlpool;

namespace {

void write(const std::filesystem::path& path, const std::string& text) {
    std::ofstream(path) << text;
}

// The configuration a deployment would keep in a file (read it into a string first).
std::string configuration(const std::filesystem::path& dir) {
    return "database=\"" + (dir / "app.db").string() + "\"\n"
           "max_connections=4\n"
           "busy_timeout=2s\n"
           "create_if_missing=true\n"
           "migrations=\"" + (dir / "migrations").string() + "\"\n"
           "table.users=id,name,email\n";
}

int run(const std::filesystem::path& dir) {
    std::filesystem::create_directories(dir / "migrations");
    write(dir / "migrations" / "0001_create_users.sql", "CREATE TABLE users(id INTEGER PRIMARY KEY, name TEXT NOT NULL);\n");
    write(dir / "migrations" / "0002_add_email.sql", "ALTER TABLE users ADD COLUMN email TEXT;\n"
                                                     "CREATE INDEX users_email ON users(email);\n");
    write(dir / "migrations" / "README.md", "One file per step, NNNN_description.sql; never edit an applied one.\n");

    auto options = sqlpool::database_options::parse(configuration(dir));
    {
        sqlpool::database db{options};
        db.start();
        db.exec("INSERT INTO users(name, email) VALUES(?, ?)", "ada", "ada@example.org");
        std::cout << "schema version " << db.schema_version() << " from " << options.schema.migrations.size()
                  << " migration files\n";
        if (db.schema_version() != 2) return 1;
    }

    // The next release ships one more file: only it is applied, the data stays.
    write(dir / "migrations" / "0003_add_posts.sql", "CREATE TABLE posts(id INTEGER PRIMARY KEY, user_id INTEGER REFERENCES users(id));\n");
    options = sqlpool::database_options::parse(configuration(dir) + "table.posts=id,user_id\n");
    sqlpool::database db{options};
    db.start();
    const auto users = db.query<std::int64_t>("SELECT count(*) FROM users");
    std::cout << "schema version " << db.schema_version() << ", " << std::get<0>(users.at(0)) << " user(s) kept\n";
    const bool ok = db.schema_version() == 3 && std::get<0>(users.at(0)) == 1;
    db.stop();
    return ok ? 0 : 1;
}

} // namespace

int main() {
    const auto dir = std::filesystem::temp_directory_path() / ("sqlpool-service-config-" + std::to_string(::getpid()));
    int status = 1;
    try {
        std::filesystem::remove_all(dir);
        status = run(dir);
    } catch (const std::exception& e) {
        std::cerr << "service_config: " << e.what() << '\n';
    }
    std::error_code ignored;
    std::filesystem::remove_all(dir, ignored);
    return status;
}
