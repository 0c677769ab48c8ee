// pool_config: every knob of a pool in one plain struct, with defaults a user can guess, and a
// validate() that reports every bad value at once.
module;
#include "detail/gmf.hpp"
export module sqlpool:config;
import :errors;
import :sqlite;

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
        if (!(max_age_jitter >= 0.0 && max_age_jitter <= 1.0))
            problems.push_back("max_age_jitter is " + std::to_string(max_age_jitter) +
                               ", must be within 0..1");
        if (statement_cache_size > 100'000)
            problems.push_back("statement_cache_size is " + std::to_string(statement_cache_size) +
                               ", must be <= 100000");
        return problems;
    }

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
                            .statement_cache_size = statement_cache_size};
    }
};

} // namespace sqlpool
