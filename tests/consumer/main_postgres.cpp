// Uses the installed postgres component: import sqlpool.postgres, start sqlpool's database service
// on a database of its own on the server whose conninfo is the argument (a migration, a declared
// table), write and read through it, and pool sessions directly through the runner.
#include <cstdint>
#include <iostream>
#include <string>

import sqlpool.postgres;

namespace pg = sqlpool::postgres;

namespace {

// A new, empty database on the server: its conninfo.
std::string fresh_database(const std::string& server) {
    pg::connection admin(server);
    admin.exec("DROP DATABASE IF EXISTS sqlpool_consumer WITH (FORCE)");
    admin.exec("CREATE DATABASE sqlpool_consumer");
    return pg::conninfo_with(server, {{"dbname", "sqlpool_consumer"}});
}

} // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        std::cerr << "usage: consumer_postgres CONNINFO\n";
        return 2;
    }
    try {
        sqlpool::database_options options;
        options.pool.database = fresh_database(argv[1]);
        options.pool.max_connections = 2;
        options.schema.migrations = {{1, "values", "CREATE TABLE consumer_t (v int)"}};
        options.schema.tables = {{"consumer_t", {"v"}}};
        sqlpool::basic_database<pg::pool> db(options);
        db.start();
        db.exec("INSERT INTO consumer_t VALUES ($1), ($2)", 41, 1);
        const auto sum = db.read(
            [](pg::connection& c) { return c.query_value<std::int64_t>("SELECT sum(v) FROM consumer_t"); });
        const auto version = db.schema_version();
        db.stop();

        pg::pool pool(options.pool);
        const auto rows = pg::read(pool, [](pg::connection& c) {
            return c.query_value<std::int64_t>("SELECT count(*) FROM consumer_t");
        });
        if (sum != 42 || version != 1 || rows != 2) {
            std::cerr << "consumer_postgres: sum " << sum << ", version " << version << ", rows " << rows
                      << "; expected 42, 1, 2\n";
            return 1;
        }
    } catch (const sqlpool::error& e) {
        std::cerr << "consumer_postgres: " << e.what() << '\n';
        return 1;
    }
    std::cout << "consumer_postgres: ok\n";
    return 0;
}
