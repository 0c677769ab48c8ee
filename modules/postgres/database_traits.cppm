// database_traits for PostgreSQL: what sqlpool's database service and pool manager need of a server
// database (see sqlpool's :database_traits), so that basic_database<postgres::pool> and
// basic_pool_manager<postgres::pool> work as they do on SQLite.
module;
#include "gmf.hpp"
export module sqlpool.postgres:database_traits;
import sqlpool;
import :values;
import :connection;
import :conninfo;
import :source;
import :runner;
import :migrations;

export namespace sqlpool {

template <postgres::reset_mode Reset>
struct database_traits<postgres::basic_source<Reset>> {
    using connection_type = postgres::connection;

    // The conninfo's keywords in libpq's order, URI or keyword/value alike, without the password:
    // the password is a credential, not part of which database (and role) it is.
    [[nodiscard]] static std::string key(const std::string& conninfo) {
        return postgres::describe_conninfo(conninfo);
    }

    // The conninfo without its password.
    [[nodiscard]] static std::string describe(const std::string& conninfo) {
        return postgres::describe_conninfo(conninfo);
    }

    // The service never creates a server database: a missing one fails to connect (SQLSTATE
    // 3D000) whatever create_if_missing says; the conninfo is checked here, before a pool opens.
    [[nodiscard]] static pool_config prepare(pool_config config, bool /*create_if_missing*/) {
        (void)postgres::parse_conninfo(config.database);
        return config;
    }

    // postgres::write() and read() (READ ONLY); `where` is not recorded on PostgreSQL.
    template <class Pool, class F>
    static auto write(Pool& p, const deadline& limit, F&& fn, std::source_location /*where*/) {
        return postgres::write(p, std::forward<F>(fn), limit);
    }
    template <class Pool, class F>
    static auto read(Pool& p, const deadline& limit, F&& fn, std::source_location /*where*/) {
        return postgres::read(p, std::forward<F>(fn), limit);
    }

    template <postgres::bindable... Args>
    static std::int64_t exec(postgres::connection& c, std::string_view sql, const Args&... args) {
        return c.exec(sql, args...);
    }
    template <postgres::column_type... Ts, postgres::bindable... Args>
    static std::vector<std::tuple<Ts...>> query(postgres::connection& c, std::string_view sql,
                                                const Args&... args) {
        return c.template query<Ts...>(sql, args...);
    }

    template <class Pool>
    [[nodiscard]] static int schema_version(Pool& p) {
        return postgres::read(p, [](postgres::connection& c) { return postgres::schema_version(c); });
    }

    // postgres::migrate(): the version in sqlpool_schema, each migration under an advisory lock.
    template <class Pool>
    static void migrate(Pool& p, std::span<const migration> migrations, const std::string& /*database*/) {
        (void)postgres::migrate(p, migrations);
    }

    template <class Pool>
    [[nodiscard]] static std::vector<std::string> missing(Pool& p, std::span<const table_spec> tables) {
        return postgres::read(p,
                              [&](postgres::connection& c) { return postgres::missing_schema(c, tables); });
    }

    // A server has no file to watch: health() judges it by the pool's figures alone.
    template <class Pool>
    [[nodiscard]] static watched_file watched(Pool& p) {
        return {postgres::describe_conninfo(p.config().database), {}};
    }
};

} // namespace sqlpool
