// pool_config as text: the field table, how one key is read and to_string(), behind the
// declarations of config_text.cppm and config.cppm (config_read.cpp reads whole texts).
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

// Milliseconds per unit. A number without a unit is seconds: the original Python service's
// convention. std::nullopt: not a unit.
std::optional<std::int64_t> unit_scale(std::string_view unit) {
    if (unit == "ms") return 1;
    if (unit.empty() || unit == "s") return 1000;
    if (unit == "m" || unit == "min") return 60'000;
    if (unit == "h") return 3'600'000;
    return std::nullopt;
}

constexpr std::string_view not_a_duration = "is not a duration (seconds, or a number and ms, s, m or h)";

// `number` (digits, and after a '.' a fraction: "90", "1.5") times `scale` milliseconds, into
// `ms`; or what is wrong with it.

std::optional<std::string> scale_decimal(std::string_view number, std::int64_t scale, std::int64_t& ms) {
    constexpr auto max = std::numeric_limits<std::int64_t>::max();
    const auto dot = number.find('.');
    const auto whole = number.substr(0, dot);
    auto fraction = dot == std::string_view::npos ? std::string_view{} : number.substr(dot + 1);
    if (whole.empty() || (dot != std::string_view::npos && fraction.empty()) ||
        fraction.find('.') != std::string_view::npos)
        return std::string(not_a_duration);
    std::int64_t whole_value = 0;
    if (std::from_chars(whole.data(), whole.data() + whole.size(), whole_value).ec != std::errc{} ||
        whole_value > max / scale)
        return "is out of range";
    while (fraction.ends_with('0')) fraction.remove_suffix(1);
    // fraction / 10^digits units are whole milliseconds only when 10^digits divides fraction *
    // scale, which no fraction of more than 7 digits does (scale divides 2^7 * 3^2 * 5^5).
    constexpr std::string_view finer = "is finer than a millisecond, the precision of durations";
    if (fraction.size() > 7) return std::string(finer);
    std::int64_t fraction_value = 0;
    std::int64_t power = 1;
    for (const char digit : fraction) {
        fraction_value = fraction_value * 10 + (digit - '0');
        power *= 10;
    }
    if (fraction_value * scale % power != 0) return std::string(finer);
    if (whole_value * scale > max - fraction_value * scale / power) return "is out of range";
    ms = whole_value * scale + fraction_value * scale / power;
    return std::nullopt;
}

// "90s", "250ms", "1.5" (seconds), "-2m" (which validate() refuses, naming the field).
std::optional<std::string> read_duration(std::chrono::milliseconds& into, std::string_view key,
                                         std::string_view text) {
    const bool negative = text.starts_with('-');
    const auto magnitude = text.substr(negative ? 1 : 0);
    const auto unit_at = std::min(magnitude.find_first_not_of("0123456789."), magnitude.size());
    const auto unit = magnitude.substr(unit_at);
    const auto scale = unit_scale(unit);
    const auto told = [&](std::string_view what) {
        return std::string(key) + ": '" + std::string(text) + "' " + std::string(what);
    };
    if (unit_at == 0) return told(not_a_duration);
    if (!scale) return std::string(key) + ": unknown unit '" + std::string(unit) + "' (use ms, s, m or h)";
    std::int64_t ms = 0;
    if (auto problem = scale_decimal(magnitude.substr(0, unit_at), *scale, ms)) return told(*problem);
    into = std::chrono::milliseconds(negative ? -ms : ms);
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
    const auto* const rule = std::ranges::find(duration_rules, member, &duration_rule::member);
    const std::string_view key = rule != duration_rules.end() ? rule->name : "?";
    return {
        key,
        [key, member](pool_config& c, std::string_view text) { return read_duration(c.*member, key, text); },
        [member](const pool_config& c) { return std::to_string((c.*member).count()) + "ms"; }};
}

config_field bool_field(std::string_view key, bool pool_config::* member) {
    return {key,
            [key, member](pool_config& c, std::string_view text) { return read_bool(c.*member, key, text); },
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

std::optional<std::string> read_bool(bool& into, std::string_view key, std::string_view text) {
    return read_enum(into, key, text, bool_names);
}

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

std::string valid_keys() {
    std::string keys;
    for (const auto& field : config_fields())
        keys += std::string(keys.empty() ? "" : ", ") + std::string(field.key);
    return keys + ", pragma.NAME, limit.NAME";
}

bool known_key(std::string_view key) {
    return key.starts_with("pragma.") || key.starts_with("limit.") ||
           std::ranges::find(config_fields(), key, &config_field::key) != config_fields().end();
}

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

} // namespace sqlpool::detail

namespace sqlpool {

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
