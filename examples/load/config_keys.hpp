// sqlpool-load's --config text with --backend postgres: a PostgreSQL pool takes pool_config's pool
// keys, and the keys that only a SQLite database has are refused (with --lenient-config, ignored
// with a note) rather than silently without effect.
#pragma once

#include <algorithm>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace load {

// The keys of a --config text, in order. The syntax is pool_config::parse()'s: key=value pairs
// separated by whitespace, a value in double quotes may hold spaces. Call it on a text that parsed.
inline std::vector<std::string> config_keys(std::string_view text) {
    const auto space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
    std::vector<std::string> keys;
    std::size_t at = 0;
    while (at < text.size()) {
        if (space(text[at])) {
            ++at;
            continue;
        }
        const std::size_t start = at;
        while (at < text.size() && text[at] != '=' && !space(text[at])) ++at;
        keys.emplace_back(text.substr(start, at - start));
        if (at < text.size() && text[at] == '=') ++at;
        if (at < text.size() && text[at] == '"') {
            const std::size_t close = text.find('"', at + 1);
            at = close == std::string_view::npos ? text.size() : close + 1;
        } else {
            while (at < text.size() && !space(text[at])) ++at;
        }
    }
    return keys;
}

// The keys a PostgreSQL pool has no use for: the SQLite file and how it is opened, the WAL
// checkpoints, SQLite's upkeep, pragmas and limits, and the database service's schema keys
// (migrations are SQLite files' PRAGMA user_version).
inline constexpr std::string_view sqlite_only_keys[] = {"database",
                                                        "path",
                                                        "mode",
                                                        "busy_timeout",
                                                        "nofollow",
                                                        "journal",
                                                        "synchronous",
                                                        "foreign_keys",
                                                        "defensive",
                                                        "trusted_schema",
                                                        "file_mode",
                                                        "checkpoints",
                                                        "wal_soft_limit",
                                                        "wal_hard_limit",
                                                        "reader_gap",
                                                        "read_transaction_limit",
                                                        "optimize",
                                                        "idle_upkeep_after",
                                                        "create_if_missing",
                                                        "migrations"};
inline constexpr std::string_view sqlite_only_families[] = {"pragma.", "limit.", "table."};

// The keys of `text` that only SQLite has, in order.
inline std::vector<std::string> sqlite_only_keys_in(std::string_view text) {
    std::vector<std::string> found;
    for (auto& key : config_keys(text)) {
        const bool family = std::ranges::any_of(
            sqlite_only_families, [&](std::string_view prefix) { return key.starts_with(prefix); });
        if (family || std::ranges::find(sqlite_only_keys, key) != std::end(sqlite_only_keys))
            found.push_back(std::move(key));
    }
    return found;
}

} // namespace load
