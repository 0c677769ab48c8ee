// source: where a PostgreSQL pool's sessions come from (sqlpool's session_source concept): the
// pool_config's `database` is the conninfo; its statement_cache_size bounds each session's
// prepared statements. The reset mode is a type parameter, as a policy is.
module;
#include "gmf.hpp"
export module sqlpool.postgres:source;
import sqlpool;
import :connection;
import :conninfo;
import :isolation;

export namespace sqlpool::postgres {

template <reset_mode Reset = reset_mode::discard_when_changed>
class basic_source {
public:
    using session_type = connection;

    // config_error when the conninfo does not parse or the config asks for what only SQLite has.
    explicit basic_source(const pool_config& config)
        : options_{config.database, {}, config.statement_cache_size, Reset},
          described_(describe_conninfo(config.database)) {
        (void)parse_conninfo(config.database);
        if (config.on_connect)
            throw config_error(
                {"on_connect takes a SQLite connection; for a PostgreSQL pool put session settings "
                 "in the conninfo (options='-c name=value')"});
    }
    basic_source(const basic_source&) = delete;
    basic_source& operator=(const basic_source&) = delete;
    basic_source(basic_source&&) = delete;
    basic_source& operator=(basic_source&&) = delete;
    ~basic_source() = default;

    [[nodiscard]] connection open(isolation_level level) const {
        connection conn(options_);
        conn.set_default_isolation(level);
        return conn;
    }
    // A server has no file to compare: the pool notices a replaced server by its sessions'
    // connection errors instead.
    [[nodiscard]] session_identity identity_now() const noexcept { return {}; }
    void opened(const connection&) const noexcept {}
    void close() noexcept {}
    [[nodiscard]] const std::string& describe() const noexcept { return described_; }
    void report(pool_stats&) const noexcept {}

private:
    connection_options options_;
    std::string described_;
};

using source = basic_source<>;

} // namespace sqlpool::postgres
