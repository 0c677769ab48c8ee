// Writes a few rows to a database file in the temp dir through sqlpool's SQLite layer, reads them
// back and prints them.
#include <cstdint>
#include <exception>
#include <filesystem>
#include <iostream>
#include <optional>
#include <string>
#include <utility>

#include <range/v3/view/take.hpp>

import sqlpool;

int main() try {
    const auto path = std::filesystem::temp_directory_path() / "sqlpool-hello.db";
    std::filesystem::remove(path);
    std::cout << "database: " << path.string() << '\n';

    sqlpool::connection db{path.string()};
    db.exec("CREATE TABLE greeting(id INTEGER PRIMARY KEY, language TEXT NOT NULL, text TEXT)");
    db.exec("BEGIN IMMEDIATE");
    for (const auto& [language, text] :
         {std::pair{"en", "hello"}, {"fr", "bonjour"}, {"de", "hallo"}, {"ja", "konnichiwa"}})
        db.exec("INSERT INTO greeting(language, text) VALUES(?, ?)", language, text);
    db.exec("INSERT INTO greeting(language, text) VALUES(?, ?)", "xx", nullptr);
    db.exec("COMMIT");

    for (const auto& [id, language, text] : db.query<std::int64_t, std::string, std::optional<std::string>>(
                                                "SELECT id, language, text FROM greeting ORDER BY id") |
                                                ::ranges::views::take(10))
        std::cout << id << "  " << language << "  " << text.value_or("(null)") << '\n';

    std::cout << db.query_value<std::int64_t>("SELECT count(*) FROM greeting") << " rows\n";
} catch (const std::exception& e) {
    std::cerr << "hello: " << e.what() << '\n';
    return 1;
}
