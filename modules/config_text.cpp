// pool_config as text: the field table, parse(), from_env() and to_string(), behind the
// declarations of config_text.cppm and config.cppm.
module;
#include "detail/gmf.hpp"
module sqlpool;

namespace sqlpool::detail {
namespace {

std::optional<std::uint64_t> to_count(std::string_view text) {
    std::uint64_t value = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc{} || end != text.data() + text.size() || text.empty()) return std::nullopt;
    return value;
}

std::optional<std::string> read_duration(std::chrono::milliseconds& into, std::string_view key,
                                         std::string_view text) {
    std::int64_t number = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), number);
    if (ec != std::errc{} || end == text.data())
        return std::string(key) + ": '" + std::string(text) +
               "' is not a duration (a number and ms, s, m or h)";
    const std::string_view unit(end, static_cast<std::size_t>(text.data() + text.size() - end));
    std::int64_t scale = 0;
    if (unit == "ms")
        scale = 1;
    else if (unit == "s")
        scale = 1000;
    else if (unit == "m" || unit == "min")
        scale = 60'000;
    else if (unit == "h")
        scale = 3'600'000;
    else if (unit.empty())
        return std::string(key) + ": '" + std::string(text) + "' needs a unit (ms, s, m or h)";
    else
        return std::string(key) + ": unknown unit '" + std::string(unit) + "' (use ms, s, m or h)";
    if (number > std::numeric_limits<std::int64_t>::max() / scale ||
        number < std::numeric_limits<std::int64_t>::min() / scale)
        return std::string(key) + ": '" + std::string(text) + "' is out of range";
    into = std::chrono::milliseconds(number * scale);
    return std::nullopt;
}

template <class E, std::size_t N>
std::optional<std::string> read_enum(E& into, std::string_view key, std::string_view text,
                                     const enum_names<E, N>& names) {
    if (const auto value = value_of(names, text)) {
        into = *value;
        return std::nullopt;
    }
    return std::string(key) + ": unknown value '" + std::string(text) + "' (use " + names_list(names) + ")";
}

inline constexpr enum_names<bool, 6> bool_names{
    {{true, "true"}, {false, "false"}, {true, "on"}, {false, "off"}, {true, "1"}, {false, "0"}}};

template <class T>
config_field count_field(std::string_view key, T pool_config::* member) {
    return {key,
            [key, member](pool_config& c, std::string_view text) -> std::optional<std::string> {
                const auto value = to_count(text);
                if (!value || *value > std::numeric_limits<T>::max())
                    return std::string(key) + ": '" + std::string(text) + "' is not a whole number >= 0";
                c.*member = static_cast<T>(*value);
                return std::nullopt;
            },
            [member](const pool_config& c) { return std::to_string(c.*member); }};
}

// A duration field; its name comes from duration_rules, where validate() finds it too.
config_field duration_field(std::chrono::milliseconds pool_config::* member) {
    const auto rule = std::ranges::find(duration_rules, member, &duration_rule::member);
    const std::string_view key = rule != duration_rules.end() ? rule->name : "?";
    return {
        key,
        [key, member](pool_config& c, std::string_view text) { return read_duration(c.*member, key, text); },
        [member](const pool_config& c) { return std::to_string((c.*member).count()) + "ms"; }};
}

config_field bool_field(std::string_view key, bool pool_config::* member) {
    return {key,
            [key, member](pool_config& c, std::string_view text) {
                return read_enum(c.*member, key, text, bool_names);
            },
            [member](const pool_config& c) { return std::string(c.*member ? "true" : "false"); }};
}

template <class E, std::size_t N>
config_field enum_field(std::string_view key, E pool_config::* member, const enum_names<E, N>& names) {
    return {key,
            [key, member, &names](pool_config& c, std::string_view text) {
                return read_enum(c.*member, key, text, names);
            },
            [member, &names](const pool_config& c) { return write_enum(c.*member, names); }};
}

config_field database_field() {
    return {"database",
            [](pool_config& c, std::string_view text) -> std::optional<std::string> {
                c.database = std::string(text);
                return std::nullopt;
            },
            [](const pool_config& c) { return c.database; }};
}

config_field file_mode_field() {
    return {"file_mode",
            [](pool_config& c, std::string_view text) -> std::optional<std::string> {
                if (text == "default") {
                    c.file_mode.reset();
                    return std::nullopt;
                }
                unsigned value = 0;
                const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value, 8);
                if (ec != std::errc{} || end != text.data() + text.size() || text.empty() ||
                    value > max_file_mode)
                    return "file_mode: '" + std::string(text) +
                           "' is not an octal mode like 0600 (or default)";
                c.file_mode = value;
                return std::nullopt;
            },
            [](const pool_config& c) {
                if (!c.file_mode) return std::string("default");
                std::array<char, 8> text{};
                const auto [end, ec] = std::to_chars(text.data(), text.data() + text.size(), *c.file_mode, 8);
                return ec == std::errc{} ? "0" + std::string(text.data(), end) : std::string("?");
            }};
}

config_field max_age_jitter_field() {
    return {"max_age_jitter",
            [](pool_config& c, std::string_view text) -> std::optional<std::string> {
                double value = 0;
                const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
                if (ec != std::errc{} || end != text.data() + text.size() || text.empty())
                    return "max_age_jitter: '" + std::string(text) + "' is not a number";
                c.max_age_jitter = value;
                return std::nullopt;
            },
            [](const pool_config& c) {
                std::array<char, 32> text{};
                const auto [end, ec] =
                    std::to_chars(text.data(), text.data() + text.size(), c.max_age_jitter);
                return ec == std::errc{} ? std::string(text.data(), end) : std::string("?");
            }};
}

} // namespace

const std::vector<config_field>& config_fields() {
    static const std::vector<config_field> fields{
        database_field(),
        enum_field("mode", &pool_config::mode, open_mode_names),
        duration_field(&pool_config::busy_timeout),
        bool_field("nofollow", &pool_config::nofollow),
        enum_field("journal", &pool_config::journal, journal_mode_names),
        enum_field("synchronous", &pool_config::synchronous, synchronous_mode_names),
        bool_field("foreign_keys", &pool_config::foreign_keys),
        count_field("statement_cache_size", &pool_config::statement_cache_size),
        bool_field("defensive", &pool_config::defensive),
        bool_field("trusted_schema", &pool_config::trusted_schema),
        file_mode_field(),
        count_field("min_connections", &pool_config::min_connections),
        count_field("max_connections", &pool_config::max_connections),
        duration_field(&pool_config::acquire_timeout),
        bool_field("detect_nested_acquire", &pool_config::detect_nested_acquire),
        duration_field(&pool_config::lease_warn_after),
        duration_field(&pool_config::connection_max_age),
        max_age_jitter_field(),
        duration_field(&pool_config::idle_timeout),
        duration_field(&pool_config::health_check_interval),
        count_field("max_uses", &pool_config::max_uses),
        duration_field(&pool_config::transaction_timeout),
        duration_field(&pool_config::close_timeout),
        bool_field("background_maintenance", &pool_config::background_maintenance),
        duration_field(&pool_config::maintenance_interval),
        enum_field("checkpoints", &pool_config::checkpoints, checkpoint_mode_names),
        count_field("wal_soft_limit", &pool_config::wal_soft_limit),
        count_field("wal_hard_limit", &pool_config::wal_hard_limit),
        duration_field(&pool_config::reader_gap),
        duration_field(&pool_config::read_transaction_limit),
        bool_field("optimize", &pool_config::optimize),
        duration_field(&pool_config::idle_upkeep_after),
    };
    return fields;
}

namespace {

std::string valid_keys() {
    std::string keys;
    for (const auto& field : config_fields())
        keys += std::string(keys.empty() ? "" : ", ") + std::string(field.key);
    return keys + ", pragma.NAME, limit.NAME";
}

// Sets one key; returns the problem, if any.
std::optional<std::string> set_field(pool_config& config, std::string_view key, std::string_view value) {
    if (key.starts_with("pragma.")) {
        const auto name = key.substr(7);
        if (name.empty()) return std::string("pragma.: the pragma needs a name (pragma.NAME=VALUE)");
        config.pragmas.emplace_back(std::string(name), std::string(value));
        return std::nullopt;
    }
    if (key.starts_with("limit.")) {
        limit which{};
        if (auto problem = read_enum(which, key, key.substr(6), limit_names)) return problem;
        int number = 0;
        const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), number);
        if (ec != std::errc{} || end != value.data() + value.size() || value.empty() || number < 0)
            return std::string(key) + ": '" + std::string(value) + "' is not a whole number >= 0";
        config.limits.emplace_back(which, number);
        return std::nullopt;
    }
    for (const auto& field : config_fields())
        if (field.key == key) return field.read(config, value);
    return "unknown key '" + std::string(key) + "'";
}

void finish(pool_config& config, std::vector<std::string> problems) {
    if (std::ranges::any_of(problems, [](const std::string& p) { return p.starts_with("unknown key"); }))
        problems.push_back("valid keys: " + valid_keys());
    if (!problems.empty()) throw config_error(std::move(problems));
    config.check();
}

} // namespace
} // namespace sqlpool::detail

namespace sqlpool {

pool_config pool_config::parse(std::string_view text) {
    return parse(text, pool_config{});
}
pool_config pool_config::from_env(std::string_view prefix) {
    return from_env(prefix, pool_config{});
}

pool_config pool_config::parse(std::string_view text, pool_config base) {
    std::vector<std::string> problems;
    std::size_t at = 0;
    const auto is_space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
    while (true) {
        while (at < text.size() && is_space(text[at])) ++at;
        if (at >= text.size()) break;
        const std::size_t key_start = at;
        while (at < text.size() && text[at] != '=' && !is_space(text[at])) ++at;
        const std::string_view key = text.substr(key_start, at - key_start);
        if (at >= text.size() || text[at] != '=') {
            problems.push_back("'" + std::string(key) + "' has no value (write key=value)");
            continue;
        }
        ++at; // '='
        std::string value;
        if (at < text.size() && text[at] == '"') {
            const auto close = text.find('"', at + 1);
            if (close == std::string_view::npos) {
                problems.push_back(std::string(key) + ": the quoted value has no closing '\"'");
                break;
            }
            value = std::string(text.substr(at + 1, close - at - 1));
            at = close + 1;
        } else {
            const std::size_t value_start = at;
            while (at < text.size() && !is_space(text[at])) ++at;
            value = std::string(text.substr(value_start, at - value_start));
        }
        if (auto problem = detail::set_field(base, key, value)) problems.push_back(std::move(*problem));
    }
    detail::finish(base, std::move(problems));
    return base;
}

pool_config pool_config::from_env(std::string_view prefix, pool_config base) {
    if (prefix.find('=') != std::string_view::npos)
        throw config_error({"from_env: the prefix '" + std::string(prefix) +
                            "' contains '=', which no environment variable name can"});
    std::vector<std::string> problems;
    const std::string pragma_prefix = std::string(prefix) + "PRAGMA_";
    for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
        const std::string_view variable(*entry);
        const auto eq = variable.find('=');
        if (eq == std::string_view::npos || !variable.substr(0, eq).starts_with(prefix)) continue;
        std::string name(variable.substr(0, eq));
        const std::string_view value = variable.substr(eq + 1);
        std::string key;
        if (name.starts_with(pragma_prefix))
            key = "pragma." + name.substr(pragma_prefix.size());
        else
            key = name.substr(prefix.size());
        std::ranges::transform(key, key.begin(), [](char c) {
            return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
        });
        if (auto problem = detail::set_field(base, key, value))
            problems.push_back(name + ": " + std::move(*problem));
    }
    detail::finish(base, std::move(problems));
    return base;
}

std::string pool_config::to_string() const {
    std::string text;
    const auto quoted = [](const std::string& value) {
        return value.empty() || value.find_first_of(" \t\r\n") != std::string::npos ? "\"" + value + "\""
                                                                                    : value;
    };
    for (const auto& field : detail::config_fields())
        text += (text.empty() ? "" : " ") + std::string(field.key) + "=" + quoted(field.write(*this));
    for (const auto& [name, value] : pragmas) text += " pragma." + name + "=" + quoted(value);
    for (const auto& [which, value] : limits)
        text += " limit." + detail::write_enum(which, detail::limit_names) + "=" + std::to_string(value);
    return text;
}

} // namespace sqlpool
