// Uses an installed sqlpool: find_package(sqlpool), import sqlpool, run a pool. The argument says
// how the caller configured this build, "gnu" (GNU extensions, CMake's default) or "strict"
// (CMAKE_CXX_EXTENSIONS OFF); the program fails if it was compiled otherwise.
#include <cstdint>
#include <iostream>
#include <string_view>

import sqlpool;

namespace {

#ifdef __STRICT_ANSI__
constexpr std::string_view compiled_mode = "strict";
#else
constexpr std::string_view compiled_mode = "gnu";
#endif

} // namespace

int main(int argc, char** argv) {
    const std::string_view expected = argc > 1 ? argv[1] : "";
    if (expected != compiled_mode) {
        std::cerr << "consumer: compiled as '" << compiled_mode << "', expected '" << expected << "'\n";
        return 1;
    }
    sqlpool::pool pool{sqlpool::pool_config{.database = ":memory:", .max_connections = 2}};
    pool.write(
        [](sqlpool::connection& c) { c.exec("CREATE TABLE t(v INTEGER); INSERT INTO t VALUES(41), (1);"); });
    const auto sum =
        pool.read([](sqlpool::connection& c) { return c.query_value<std::int64_t>("SELECT sum(v) FROM t"); });
    std::cout << "consumer (" << compiled_mode << "): sum " << sum << ", acquired " << pool.stats().acquired
              << '\n';
    return sum == 42 ? 0 : 1;
}
