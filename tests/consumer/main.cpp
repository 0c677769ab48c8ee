// Uses an installed sqlpool: find_package(sqlpool), import sqlpool, run a pool.
#include <cstdint>
#include <iostream>

import sqlpool;

int main() {
    sqlpool::pool pool{sqlpool::pool_config{.database = ":memory:", .max_connections = 2}};
    pool.write([](sqlpool::connection& c) { c.exec("CREATE TABLE t(v INTEGER); INSERT INTO t VALUES(41), (1);"); });
    const auto sum =
        pool.read([](sqlpool::connection& c) { return c.query_value<std::int64_t>("SELECT sum(v) FROM t"); });
    std::cout << "consumer: sum " << sum << ", acquired " << pool.stats().acquired << '\n';
    return sum == 42 ? 0 : 1;
}
