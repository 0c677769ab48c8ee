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

// Reads a boolean the way every boolean key is read (true, false, on, off, 1, 0); returns the
// problem, if any.
[[nodiscard]] std::optional<std::string> read_bool(bool& into, std::string_view key, std::string_view text);

// Keys beside pool_config's that a configuration built around one reads (database_options'): the
// reader hands each to `read`, with the same syntax, modes, notes and one config_error for all.
struct extra_keys {
    // For the message about an unknown key: "create_if_missing, migrations, table.NAME".
    std::string names;
    // Families of keys FAMILY.NAME that an environment variable PREFIX_FAMILY_NAME names, as
    // PREFIX_PRAGMA_NAME names pragma.NAME (which every reader knows).
    std::vector<std::string> families;
    // Reads one key into its owner, appending each problem; false: a key it does not know.
    std::function<bool(std::string_view key, std::string_view value, std::vector<std::string>& problems)>
        read;
};

// pool_config::parse_with_notes() and from_env_with_notes() with `extra` keys (none: nullptr).
[[nodiscard]] parsed_config read_text_config(std::string_view text, config_mode mode, pool_config base,
                                             const extra_keys* extra);
[[nodiscard]] parsed_config read_env_config(std::string_view prefix, config_mode mode, pool_config base,
                                            const extra_keys* extra);

template <class E, std::size_t N>
std::string write_enum(E value, const enum_names<E, N>& names) {
    return name_of(names, value);
}

} // namespace sqlpool::detail
