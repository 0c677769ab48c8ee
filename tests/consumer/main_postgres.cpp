// Uses the installed postgres component: import sqlpool.postgres, pool sessions to the server whose
// conninfo is the argument, write through the runner and read it back.
#include <cstdint>
#include <iostream>
#include <string>

import sqlpool.postgres;

namespace pg = sqlpool::postgres;

int main(int argc, char** argv) {
    if (argc < 2) {
        std::cerr << "usage: consumer_postgres CONNINFO\n";
        return 2;
    }
    try {
        sqlpool::pool_config config;
        config.database = argv[1];
        config.max_connections = 2;
        pg::pool pool(config);
        pg::write(pool, [](pg::connection& c) {
            c.exec("DROP TABLE IF EXISTS consumer_t; CREATE TABLE consumer_t (v int); INSERT INTO consumer_t "
                   "VALUES (41), (1)");
        });
        const auto sum = pg::read(pool, [](pg::connection& c) {
            return c.query_value<std::int64_t>("SELECT sum(v) FROM consumer_t");
        });
        if (sum != 42) {
            std::cerr << "consumer_postgres: sum " << sum << ", expected 42\n";
            return 1;
        }
    } catch (const sqlpool::error& e) {
        std::cerr << "consumer_postgres: " << e.what() << '\n';
        return 1;
    }
    std::cout << "consumer_postgres: ok\n";
    return 0;
}
