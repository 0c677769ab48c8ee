// config_parse: libFuzzer target for pool_config::parse (issues 5/6, 11).
//
// Any text either parses into a configuration that validate() accepts and that survives a round
// trip through to_string(), or is refused with a config_error that lists at least one problem.
// Nothing else may happen: no other exception, no crash, no leak. And what parse() accepts must
// work: a pool built from it (on a private in-memory database, without the background thread)
// opens, hands out a connection at once, runs statements, takes it back, maintains and closes.
#include <algorithm>
#include <array>
#include <cctype>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "fuzz_check.hpp"

import sqlpool;

namespace {

std::string lower(std::string text) {
    std::ranges::transform(text, text.begin(),
                           [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return text;
}

// Pragmas that change the whole process's SQLite rather than one connection (a heap limit, the
// temporary directory): a pool honours them as written, which would change every later input.
bool sets_process_state(const std::string& name) {
    constexpr std::array<std::string_view, 4> process_wide{"hard_heap_limit", "soft_heap_limit",
                                                           "temp_store_directory", "data_store_directory"};
    return std::ranges::find(process_wide, lower(name)) != process_wide.end();
}

bool overrides_busy_timeout(const sqlpool::pool_config& config) {
    return std::ranges::any_of(config.pragmas,
                               [](const auto& pragma) { return lower(pragma.first) == "busy_timeout"; });
}

// Builds a pool from an accepted configuration and uses it without ever blocking.
void exercise(sqlpool::pool_config config) {
    config.database = ":memory:"; // never a file named by fuzz input
    config.background_maintenance = false;
    config.min_connections = std::min<std::size_t>(config.min_connections, 2); // keep each input fast
    FUZZ_CHECK(config.validate().empty());
    if (std::ranges::any_of(config.pragmas, [](const auto& p) { return sets_process_state(p.first); }))
        return;
    sqlpool::pool pool(config); // an accepted configuration must give a working pool
    {
        auto lease = pool.try_acquire(std::chrono::nanoseconds::zero());
        FUZZ_CHECK(lease.has_value()); // nothing is leased: a connection is there at once
        if (!overrides_busy_timeout(config))
            FUZZ_CHECK((*lease)->query_value<std::int64_t>("PRAGMA busy_timeout") ==
                       config.busy_timeout.count());
        try {
            (*lease)->exec("CREATE TABLE IF NOT EXISTS t(x)");
            (*lease)->exec("INSERT INTO t VALUES (?)", 1);
            (void)(*lease)->query_value<std::int64_t>("SELECT count(*) FROM t");
        } catch (const sqlpool::error&) {
            // Deliberately ignored: read_only mode, query_only or tight limits may refuse these.
        }
    }
    pool.maintain();
    FUZZ_CHECK(pool.close(std::chrono::nanoseconds::zero())); // every lease is back
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    std::optional<sqlpool::pool_config> config;
    try {
        config = sqlpool::pool_config::parse(text);
    } catch (const sqlpool::config_error& e) {
        FUZZ_CHECK(!e.problems().empty());
        FUZZ_CHECK(std::string_view(e.what()).starts_with("invalid configuration: "));
        return 0;
    }
    FUZZ_CHECK(config->validate().empty());
    const std::string once = config->to_string();
    FUZZ_CHECK(sqlpool::pool_config::parse(once).to_string() == once);
    exercise(*config); // outside the try: a config_error from an accepted configuration is a finding
    return 0;
}
