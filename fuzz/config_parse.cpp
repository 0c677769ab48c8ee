// config_parse: libFuzzer target for pool_config::parse (issue 5/6).
//
// Any text either parses into a configuration that validate() accepts and that survives a round
// trip through to_string(), or is refused with a config_error that lists at least one problem.
// Nothing else may happen: no other exception, no crash, no leak.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_check.hpp"

import sqlpool;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    try {
        const auto config = sqlpool::pool_config::parse(text);
        FUZZ_CHECK(config.validate().empty());
        const std::string once = config.to_string();
        const auto again = sqlpool::pool_config::parse(once);
        FUZZ_CHECK(again.to_string() == once);
    } catch (const sqlpool::config_error& e) {
        FUZZ_CHECK(!e.problems().empty());
        FUZZ_CHECK(std::string_view(e.what()).starts_with("invalid configuration: "));
    }
    return 0;
}
