// Shared by the tests of the SQLite layer (connection, statement, values, open_options, ...): a file
// database fixture, the message of a misuse, and small readers.
//
// It imports sqlpool, so a test file includes it after every other header: in an importer every
// #include comes before `import sqlpool;`.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "temp_dir.hpp"
#include "thrown.hpp"

import sqlpool;

namespace sqlpool_test {

// A file database with the default options.
struct file_db {
    temp_dir dir;
    std::string path = dir.file("test.db");
    sqlpool::connection conn{path};
};

template <class F>
std::string misuse_message(F&& f) {
    const auto e = thrown<sqlpool::misuse_error>(std::forward<F>(f));
    return e ? std::string(e->what()) : std::string("<no misuse_error>");
}

inline bool contains(std::string_view text, std::string_view part) {
    return text.find(part) != std::string_view::npos;
}

inline std::vector<std::byte> bytes(std::initializer_list<unsigned char> values) {
    std::vector<std::byte> result;
    for (const auto v : values) result.push_back(std::byte{v});
    return result;
}

inline std::int64_t count(sqlpool::connection& conn, const std::string& table) {
    return conn.query_value<std::int64_t>("SELECT count(*) FROM " + table);
}

// The row ids of the first `n` rows of an endless recursive CTE.
inline constexpr const char* endless =
    "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT x FROM c";

} // namespace sqlpool_test
