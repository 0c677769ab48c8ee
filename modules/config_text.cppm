// pool_config as text: parse(), from_env() and to_string(), and the tables of fields and of old key
// names they share.
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

// An old name of a key that parse() and from_env() still read as the current one, with a note
// (parsed_config::notes) that it is deprecated.
struct config_alias {
    std::string_view old_key;
    std::string_view key;
    std::string_view origin; // where the old name was a key
};

// Every old key name, the one list of them. The original Python service's config had
// max_connections, min_connections, connection_max_age and health_check_interval, the names of
// pool_config's fields (its durations were seconds, which a duration without a unit is), and
// `path` for the database file. Its other keys have no equivalent here (see docs/tutorial.md).
inline constexpr std::array<config_alias, 1> config_aliases{{
    {"path", "database", "the Python service's database config"},
}};

// True for a key parse() reads: a field's, pragma.NAME or limit.NAME.
[[nodiscard]] bool known_key(std::string_view key);

// Sets one key; returns the problem, if any.
[[nodiscard]] std::optional<std::string> set_field(pool_config& config, std::string_view key,
                                                   std::string_view value);

// "database, mode, ..., pragma.NAME, limit.NAME": for the message about an unknown key.
[[nodiscard]] std::string valid_keys();

template <class E, std::size_t N>
std::string write_enum(E value, const enum_names<E, N>& names) {
    return name_of(names, value);
}

} // namespace sqlpool::detail
