// pool_config: every knob of a pool in one plain struct, with defaults a user can guess, and a
// validate() that reports every bad value at once.
module;
#include "detail/gmf.hpp"
export module sqlpool:config;
import :errors;
import :sqlite;
import :events;

namespace sqlpool::detail {

inline std::string format_duration(std::chrono::milliseconds value) {
    return std::to_string(value.count()) + "ms";
}

} // namespace sqlpool::detail

namespace sqlpool {
using namespace std::chrono_literals; // for the defaults below; not exported
} // namespace sqlpool

export namespace sqlpool {

struct pool_config {
    // The database file, ":memory:" (one in-memory database shared by the pool's connections),
    // or a "file:" URI.
    std::string database;

    // How each connection is opened (see open_options).
    open_mode mode = open_mode::read_write_create;
    std::chrono::milliseconds busy_timeout = 2s;
    bool nofollow = false;
    journal_mode journal = journal_mode::wal;
    synchronous_mode synchronous = synchronous_mode::normal;
    bool foreign_keys = true;
    std::vector<std::pair<std::string, std::string>> pragmas;
    std::size_t statement_cache_size = 64;
    bool defensive = true;
    bool trusted_schema = false;
    std::optional<unsigned> file_mode = 0600; // permissions of a database file the pool creates
    std::vector<std::pair<limit, int>> limits;
    authorizer_function authorizer;

    // Pool size: min_connections are kept open once warm; never more than max_connections.
    std::size_t min_connections = 1;
    std::size_t max_connections = 8;

    // How long acquire() waits for a connection before it throws timeout_error.
    std::chrono::milliseconds acquire_timeout = 5s;
    // A connection retires after this age, shortened by a random part of max_age_jitter (0..1) so
    // that connections opened together do not all retire together.
    std::chrono::milliseconds connection_max_age = 30min;
    double max_age_jitter = 0.10;
    // An idle connection above min_connections retires after this long unused.
    std::chrono::milliseconds idle_timeout = 10min;
    // Idle connections are health-checked this often (for policies that check periodically).
    std::chrono::milliseconds health_check_interval = 30s;
    // A connection retires after this many leases; 0 means unlimited.
    std::uint64_t max_uses = 0;
    // How long read()/write() keep retrying a transaction that meets SQLITE_BUSY.
    std::chrono::milliseconds transaction_timeout = 10s;
    // How long close() (and the destructor) wait for outstanding leases.
    std::chrono::milliseconds close_timeout = 30s;
    // Whether the pool runs maintenance on a background thread, and how often. Without it,
    // call maintain() yourself.
    bool background_maintenance = true;
    std::chrono::milliseconds maintenance_interval = 1s;

    // Runs on every new connection after sqlpool's defaults, before it is first handed out.
    std::function<void(connection&)> on_connect;

    // Told of connects, acquires, releases, retirements, failed health checks, timeouts, busy
    // retries and the close (see pool_listener). Not set: no cost but a null check per event.
    std::shared_ptr<pool_listener> listener;

    // Every violation, each a sentence naming the field and its value; empty when valid.
    [[nodiscard]] std::vector<std::string> validate() const {
        std::vector<std::string> problems;
        if (database.empty()) problems.emplace_back("database is empty, must name a file or \":memory:\"");
        if (max_connections == 0) problems.emplace_back("max_connections is 0, must be >= 1");
        if (min_connections > max_connections && max_connections != 0)
            problems.push_back("min_connections (" + std::to_string(min_connections) +
                               ") exceeds max_connections (" + std::to_string(max_connections) + ")");
        const auto positive = [&](std::string_view name, std::chrono::milliseconds value) {
            if (value <= std::chrono::milliseconds::zero())
                problems.push_back(std::string(name) + " must be positive, is " +
                                   detail::format_duration(value));
        };
        positive("acquire_timeout", acquire_timeout);
        positive("connection_max_age", connection_max_age);
        positive("idle_timeout", idle_timeout);
        positive("health_check_interval", health_check_interval);
        positive("transaction_timeout", transaction_timeout);
        positive("maintenance_interval", maintenance_interval);
        if (busy_timeout < std::chrono::milliseconds::zero())
            problems.push_back("busy_timeout must not be negative, is " +
                               detail::format_duration(busy_timeout));
        if (close_timeout < std::chrono::milliseconds::zero())
            problems.push_back("close_timeout must not be negative, is " +
                               detail::format_duration(close_timeout));
        if (acquire_timeout > std::chrono::milliseconds::zero() && acquire_timeout <= busy_timeout)
            problems.push_back("acquire_timeout (" + detail::format_duration(acquire_timeout) +
                               ") must be longer than busy_timeout (" +
                               detail::format_duration(busy_timeout) + ")");
        // Written so that NaN fails too. NOLINTNEXTLINE(readability-simplify-boolean-expr)
        if (!(max_age_jitter >= 0.0 && max_age_jitter <= 1.0))
            problems.push_back("max_age_jitter is " + std::to_string(max_age_jitter) +
                               ", must be within 0..1");
        if (statement_cache_size > 100'000)
            problems.push_back("statement_cache_size is " + std::to_string(statement_cache_size) +
                               ", must be <= 100000");
        return problems;
    }

    // A configuration from text: whitespace-separated key=value pairs naming pool_config's fields,
    // e.g. "database=app.db max_connections=8 connection_max_age=30m"; durations take a unit (ms,
    // s, m, h); a value with spaces goes in double quotes; `pragma.NAME=VALUE` adds a pragma.
    // Unknown keys, bad numbers and bad units are reported together, with the valid keys, as one
    // config_error; then validate() runs on the result. on_connect cannot be set from text.
    [[nodiscard]] static pool_config parse(std::string_view text);
    [[nodiscard]] static pool_config parse(std::string_view text, pool_config base);

    // A configuration from environment variables PREFIX + the field name in upper case
    // (SQLPOOL_MAX_CONNECTIONS=8, SQLPOOL_PRAGMA_CACHE_SIZE=-2000), over `base`.
    [[nodiscard]] static pool_config from_env(std::string_view prefix = "SQLPOOL_");
    [[nodiscard]] static pool_config from_env(std::string_view prefix, pool_config base);

    // Every field that parse() knows, as key=value text (quoted where needed); parse(to_string())
    // gives back an equal configuration, on_connect aside.
    [[nodiscard]] std::string to_string() const;

    // Throws config_error listing every violation, if there is any.
    void check() const {
        if (auto problems = validate(); !problems.empty()) throw config_error(std::move(problems));
    }

    // The open_options every connection of the pool is opened with (path as given).
    [[nodiscard]] open_options connection_options() const {
        return open_options{.path = database,
                            .mode = mode,
                            .busy_timeout = busy_timeout,
                            .nofollow = nofollow,
                            .journal = journal,
                            .synchronous = synchronous,
                            .foreign_keys = foreign_keys,
                            .pragmas = pragmas,
                            .statement_cache_size = statement_cache_size,
                            .defensive = defensive,
                            .trusted_schema = trusted_schema,
                            .file_mode = file_mode,
                            .limits = limits,
                            .authorizer = authorizer};
    }
};

} // namespace sqlpool

namespace sqlpool::detail {

// One pool_config field as text: how to read it into a config and how to write it out.
struct config_field {
    std::string_view key;
    std::function<std::optional<std::string>(pool_config&, std::string_view)> read; // an error, or nothing
    std::function<std::string(const pool_config&)> write;
};

inline std::optional<std::uint64_t> to_count(std::string_view text) {
    std::uint64_t value = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc{} || end != text.data() + text.size() || text.empty()) return std::nullopt;
    return value;
}

inline std::optional<std::string> read_duration(std::chrono::milliseconds& into, std::string_view key,
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
                                     const std::array<std::pair<std::string_view, E>, N>& names) {
    for (const auto& [name, value] : names)
        if (name == text) {
            into = value;
            return std::nullopt;
        }
    std::string valid;
    for (const auto& [name, value] : names) valid += (valid.empty() ? "" : ", ") + std::string(name);
    return std::string(key) + ": unknown value '" + std::string(text) + "' (use " + valid + ")";
}

template <class E, std::size_t N>
std::string write_enum(E value, const std::array<std::pair<std::string_view, E>, N>& names) {
    for (const auto& [name, v] : names)
        if (v == value) return std::string(name);
    return "?";
}

inline constexpr std::array<std::pair<std::string_view, open_mode>, 3> open_mode_names{
    {{"read_only", open_mode::read_only},
     {"read_write", open_mode::read_write},
     {"read_write_create", open_mode::read_write_create}}};
inline constexpr std::array<std::pair<std::string_view, journal_mode>, 7> journal_names{
    {{"wal", journal_mode::wal},
     {"delete", journal_mode::delete_journal},
     {"truncate", journal_mode::truncate},
     {"persist", journal_mode::persist},
     {"memory", journal_mode::memory},
     {"off", journal_mode::off},
     {"unchanged", journal_mode::unchanged}}};
inline constexpr std::array<std::pair<std::string_view, synchronous_mode>, 5> synchronous_names{
    {{"off", synchronous_mode::off},
     {"normal", synchronous_mode::normal},
     {"full", synchronous_mode::full},
     {"extra", synchronous_mode::extra},
     {"unchanged", synchronous_mode::unchanged}}};
inline constexpr std::array<std::pair<std::string_view, bool>, 6> bool_names{
    {{"true", true}, {"false", false}, {"on", true}, {"off", false}, {"1", true}, {"0", false}}};

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

inline config_field duration_field(std::string_view key, std::chrono::milliseconds pool_config::* member) {
    return {
        key,
        [key, member](pool_config& c, std::string_view text) { return read_duration(c.*member, key, text); },
        [member](const pool_config& c) { return std::to_string((c.*member).count()) + "ms"; }};
}

inline config_field bool_field(std::string_view key, bool pool_config::* member) {
    return {key,
            [key, member](pool_config& c, std::string_view text) {
                return read_enum(c.*member, key, text, bool_names);
            },
            [member](const pool_config& c) { return std::string(c.*member ? "true" : "false"); }};
}

template <class E, std::size_t N>
config_field enum_field(std::string_view key, E pool_config::* member,
                        const std::array<std::pair<std::string_view, E>, N>& names) {
    return {key,
            [key, member, &names](pool_config& c, std::string_view text) {
                return read_enum(c.*member, key, text, names);
            },
            [member, &names](const pool_config& c) { return write_enum(c.*member, names); }};
}

inline const std::vector<config_field>& config_fields() {
    static const std::vector<config_field> fields{
        {"database",
         [](pool_config& c, std::string_view text) -> std::optional<std::string> {
             c.database = std::string(text);
             return std::nullopt;
         },
         [](const pool_config& c) { return c.database; }},
        enum_field("mode", &pool_config::mode, open_mode_names),
        duration_field("busy_timeout", &pool_config::busy_timeout),
        bool_field("nofollow", &pool_config::nofollow),
        enum_field("journal", &pool_config::journal, journal_names),
        enum_field("synchronous", &pool_config::synchronous, synchronous_names),
        bool_field("foreign_keys", &pool_config::foreign_keys),
        count_field("statement_cache_size", &pool_config::statement_cache_size),
        bool_field("defensive", &pool_config::defensive),
        bool_field("trusted_schema", &pool_config::trusted_schema),
        {"file_mode",
         [](pool_config& c, std::string_view text) -> std::optional<std::string> {
             if (text == "default") {
                 c.file_mode.reset();
                 return std::nullopt;
             }
             unsigned value = 0;
             const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value, 8);
             if (ec != std::errc{} || end != text.data() + text.size() || text.empty() || value > 0777)
                 return "file_mode: '" + std::string(text) + "' is not an octal mode like 0600 (or default)";
             c.file_mode = value;
             return std::nullopt;
         },
         [](const pool_config& c) {
             if (!c.file_mode) return std::string("default");
             std::array<char, 8> text{};
             const auto [end, ec] = std::to_chars(text.data(), text.data() + text.size(), *c.file_mode, 8);
             return ec == std::errc{} ? "0" + std::string(text.data(), end) : std::string("?");
         }},
        count_field("min_connections", &pool_config::min_connections),
        count_field("max_connections", &pool_config::max_connections),
        duration_field("acquire_timeout", &pool_config::acquire_timeout),
        duration_field("connection_max_age", &pool_config::connection_max_age),
        {"max_age_jitter",
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
             const auto [end, ec] = std::to_chars(text.data(), text.data() + text.size(), c.max_age_jitter);
             return ec == std::errc{} ? std::string(text.data(), end) : std::string("?");
         }},
        duration_field("idle_timeout", &pool_config::idle_timeout),
        duration_field("health_check_interval", &pool_config::health_check_interval),
        count_field("max_uses", &pool_config::max_uses),
        duration_field("transaction_timeout", &pool_config::transaction_timeout),
        duration_field("close_timeout", &pool_config::close_timeout),
        bool_field("background_maintenance", &pool_config::background_maintenance),
        duration_field("maintenance_interval", &pool_config::maintenance_interval),
    };
    return fields;
}

inline constexpr std::array<std::pair<std::string_view, limit>, 12> limit_names{
    {{"length", limit::length},
     {"sql_length", limit::sql_length},
     {"column", limit::column},
     {"expr_depth", limit::expr_depth},
     {"compound_select", limit::compound_select},
     {"vdbe_op", limit::vdbe_op},
     {"function_arg", limit::function_arg},
     {"attached", limit::attached},
     {"like_pattern_length", limit::like_pattern_length},
     {"variable_number", limit::variable_number},
     {"trigger_depth", limit::trigger_depth},
     {"worker_threads", limit::worker_threads}}};

inline std::string valid_keys() {
    std::string keys;
    for (const auto& field : config_fields())
        keys += std::string(keys.empty() ? "" : ", ") + std::string(field.key);
    return keys + ", pragma.NAME, limit.NAME";
}

// Sets one key; returns the problem, if any.
inline std::optional<std::string> set_field(pool_config& config, std::string_view key,
                                            std::string_view value) {
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

inline void finish(pool_config& config, std::vector<std::string> problems) {
    if (std::ranges::any_of(problems, [](const std::string& p) { return p.starts_with("unknown key"); }))
        problems.push_back("valid keys: " + valid_keys());
    if (!problems.empty()) throw config_error(std::move(problems));
    config.check();
}

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
    std::vector<std::string> problems;
    const std::string pragma_prefix = std::string(prefix) + "PRAGMA_";
    for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
        const std::string_view variable(*entry);
        const auto eq = variable.find('=');
        if (eq == std::string_view::npos || !variable.starts_with(prefix)) continue;
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
