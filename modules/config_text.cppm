// pool_config as text: parse(), from_env() and to_string(), and the table of fields they share.
module;
#include "detail/gmf.hpp"
export module sqlpool:config_text;
import :errors;
import :sqlite;
import :names;
import :config;

namespace sqlpool::detail {

// One pool_config field as text: how to read it into a config and how to write it out.
struct config_field {
    std::string_view key;
    std::function<std::optional<std::string>(pool_config&, std::string_view)> read; // an error, or nothing
    std::function<std::string(const pool_config&)> write;
};

// Every field parse() and to_string() know (pragmas and limits aside), in to_string()'s order.
[[nodiscard]] const std::vector<config_field>& config_fields();

template <class E, std::size_t N>
std::string write_enum(E value, const enum_names<E, N>& names) {
    return name_of(names, value);
}

} // namespace sqlpool::detail
