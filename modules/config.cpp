// pool_config::validate() and the checks it runs, behind the declarations of config.cppm.
module;
#include "detail/gmf.hpp"
module sqlpool;

namespace sqlpool::detail {
namespace {

std::string format_duration(std::chrono::milliseconds value) {
    return std::to_string(value.count()) + "ms";
}

// "limit.NAME", as the text form writes it.
std::string limit_key(limit which) {
    return "limit." + std::string(name_of(limit_names, which));
}

std::string duration_bound(const duration_rule& rule) {
    const auto text = format_duration(rule.max);
    if (rule.max == pool_config::max_busy_timeout)
        return text + " (INT_MAX ms, what sqlite3_busy_timeout takes)";
    return text + " (" + std::to_string(std::chrono::duration_cast<std::chrono::years>(rule.max).count()) +
           " years, pool_config::max_duration)";
}

void check_durations(const pool_config& config, std::vector<std::string>& problems) {
    for (const auto& rule : duration_rules) {
        const auto value = config.*rule.member;
        const std::string name(rule.name);
        if (!rule.zero_allowed && value <= std::chrono::milliseconds::zero())
            problems.push_back(name + " must be positive, is " + format_duration(value));
        else if (value < std::chrono::milliseconds::zero())
            problems.push_back(name + " must not be negative, is " + format_duration(value));
        else if (value > rule.max)
            problems.push_back(name + " is " + format_duration(value) + ", must be at most " +
                               duration_bound(rule));
    }
    if (config.acquire_timeout > std::chrono::milliseconds::zero() &&
        config.acquire_timeout <= config.busy_timeout)
        problems.push_back("acquire_timeout (" + format_duration(config.acquire_timeout) +
                           ") must be longer than busy_timeout (" + format_duration(config.busy_timeout) +
                           ")");
}

void check_database(const pool_config& config, std::vector<std::string>& problems) {
    if (config.database.empty()) problems.emplace_back("database is empty, must name a file or \":memory:\"");
    if (const auto nul = config.database.find('\0'); nul != std::string::npos)
        problems.push_back("database contains a NUL byte (at offset " + std::to_string(nul) +
                           "); SQLite would open only the name before it");
}

// The checkpoint manager's sizes, and the pragmas that would take checkpoints from their owner.
void check_checkpoints(const pool_config& config, std::vector<std::string>& problems) {
    if (config.wal_soft_limit == 0) problems.emplace_back("wal_soft_limit is 0, must be >= 1 (bytes)");
    if (config.wal_hard_limit < config.wal_soft_limit)
        problems.push_back("wal_hard_limit (" + std::to_string(config.wal_hard_limit) +
                           ") is less than wal_soft_limit (" + std::to_string(config.wal_soft_limit) + ")");
    const bool autocheckpoint_set = std::ranges::any_of(
        config.pragmas, [](const auto& pragma) { return pragma.first == "wal_autocheckpoint"; });
    if (autocheckpoint_set && config.checkpoints != checkpoint_mode::sqlite)
        problems.push_back(std::string("pragma wal_autocheckpoint is set, but checkpoints=") +
                           to_string(config.checkpoints) +
                           " takes automatic checkpoints away from SQLite: set checkpoints=sqlite to use it");
}

void check_connection_settings(const pool_config& config, std::vector<std::string>& problems) {
    // Written so that NaN fails too. NOLINTNEXTLINE(readability-simplify-boolean-expr)
    if (!(config.max_age_jitter >= 0.0 && config.max_age_jitter <= 1.0))
        problems.push_back("max_age_jitter is " + std::to_string(config.max_age_jitter) +
                           ", must be within 0..1");
    if (config.statement_cache_size > 100'000)
        problems.push_back("statement_cache_size is " + std::to_string(config.statement_cache_size) +
                           ", must be <= 100000");
    if (config.file_mode && *config.file_mode > max_file_mode) {
        std::array<char, 16> octal{};
        const auto end = std::to_chars(octal.data(), octal.data() + octal.size(), *config.file_mode, 8).ptr;
        problems.push_back("file_mode is 0" + std::string(octal.data(), end) +
                           ", must be a permission mode within 0777");
    }
    for (const auto& [name, value] : config.pragmas)
        if (auto problem = pragma_problem(name, value)) problems.push_back(std::move(*problem));
}

// Pragmas that set the whole process's state, not a connection's: validate() does not run them.
bool process_wide_pragma(std::string_view name) {
    std::string lower(name);
    std::ranges::transform(lower, lower.begin(), [](char c) {
        return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    });
    return lower == "hard_heap_limit" || lower == "soft_heap_limit" || lower == "temp_store_directory" ||
           lower == "data_store_directory";
}

// Sets up a private in-memory connection with the pragmas and limits, as the pool does each of its
// own: SQLite refuses a pragma value it cannot parse or use ("PRAGMA encoding=abc"), silently
// changes a limit it cannot take, and sqlpool's own statements need room under the limits.
void try_connection(const pool_config& config, std::vector<std::string>& problems) {
    open_options options{.path = ":memory:", .limits = config.limits};
    std::string tried;
    for (const auto& [name, value] : config.pragmas)
        if (!process_wide_pragma(name)) {
            options.pragmas.emplace_back(name, value);
            tried += (tried.empty() ? "pragma." : " pragma.") + name + "=" + value;
        }
    for (const auto& [which, value] : config.limits)
        tried += (tried.empty() ? "" : " ") + limit_key(which) + "=" + std::to_string(value);
    if (tried.empty()) return;
    try {
        connection probe(std::move(options));
        for (const auto& [which, value] : config.limits)
            if (const int kept = sqlite3_limit(probe.native_handle(), limit_id(which), -1); kept != value)
                problems.push_back(limit_key(which) + " is " + std::to_string(value) + ", but SQLite keeps " +
                                   std::to_string(kept) + " (its bound for this limit)");
        (void)probe.query_value<std::int64_t>("SELECT 1"); // what health::ping runs
        probe.exec("BEGIN"); // deferred: a query_only connection (read_write_pool readers) may begin too
        probe.exec("ROLLBACK");
    } catch (const error& e) {
        problems.push_back("a connection cannot be set up with " + tried + ": " + e.what());
    }
}

void check_pragmas_and_limits(const pool_config& config, std::vector<std::string>& problems) {
    bool plain = std::ranges::none_of(config.pragmas, [](const auto& pragma) {
        return pragma_problem(pragma.first, pragma.second).has_value();
    });
    for (const auto& [which, value] : config.limits)
        if (value < 0) {
            problems.push_back(limit_key(which) + " is " + std::to_string(value) + ", must be >= 0");
            plain = false;
        }
    if (plain) try_connection(config, problems);
}

} // namespace

void check_sizes(const pool_config& config, std::vector<std::string>& problems) {
    if (config.max_connections == 0) problems.emplace_back("max_connections is 0, must be >= 1");
    if (config.max_connections > pool_config::max_pool_size)
        problems.push_back("max_connections (" + std::to_string(config.max_connections) + ") exceeds " +
                           std::to_string(pool_config::max_pool_size) + ", the largest pool sqlpool allows");
    if (config.min_connections > config.max_connections && config.max_connections != 0)
        problems.push_back("min_connections (" + std::to_string(config.min_connections) +
                           ") exceeds max_connections (" + std::to_string(config.max_connections) + ")");
}

} // namespace sqlpool::detail

namespace sqlpool {

std::vector<std::string> pool_config::validate() const {
    std::vector<std::string> problems;
    detail::check_database(*this, problems);
    detail::check_sizes(*this, problems);
    detail::check_durations(*this, problems);
    detail::check_connection_settings(*this, problems);
    detail::check_checkpoints(*this, problems);
    detail::check_pragmas_and_limits(*this, problems);
    return problems;
}

} // namespace sqlpool
