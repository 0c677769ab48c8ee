// read_write_pool: a PostgreSQL primary for writes and its streaming standbys for reads, as two
// pools. libpq picks the server by its role (target_session_attrs,
// https://www.postgresql.org/docs/15/libpq-connect.html#LIBPQ-CONNECT-TARGET-SESSION-ATTRS): the
// writer connects only to a server that accepts writes; readers to a standby, and to the primary
// when no standby answers if the fallback allows it. Reads run READ ONLY: a write in them fails.
module;
#include "gmf.hpp"
export module sqlpool.postgres:read_write_pool;
import sqlpool;
import :connection;
import :conninfo;
import :source;
import :isolation;
import :runner;

export namespace sqlpool::postgres {

// Where reads go when no standby answers: to the primary (`primary`), or nowhere (`none`: the
// read fails with connection_lost_error).
enum class reader_fallback : std::uint8_t { primary, none };

// The conninfo of a reader: the standbys' hosts, then (with fallback primary) the primary's;
// config_error when a fallback to the primary lacks the host or port to list.
[[nodiscard]] std::string reader_conninfo(std::string_view standbys, std::string_view primary,
                                          reader_fallback fallback);

// The conninfo of the writer: only a server that accepts writes.
[[nodiscard]] inline std::string writer_conninfo(std::string_view primary) {
    return conninfo_with(primary, {{"target_session_attrs", "read-write"}});
}

template <class Isolation = isolation::read_committed>
class read_write_pool {
public:
    using pool_type = sqlpool::basic_pool<locking::std_mutex, health::ping, recycling::standard, Isolation,
                                          queue::barging, coarse_steady_clock, source>;

    // `writer.database` names the primary, `reader.database` the standbys (several hosts in one
    // conninfo: host=a,b port=1,2).
    read_write_pool(pool_config writer, pool_config reader,
                    reader_fallback fallback = reader_fallback::primary)
        : writer_(with_database(writer, writer_conninfo(writer.database))),
          reader_(with_database(reader, reader_conninfo(reader.database, writer.database, fallback))) {}

    template <std::invocable<connection&> F>
    auto write(F&& fn, const deadline& limit = {}) {
        return postgres::write(writer_, std::forward<F>(fn), limit);
    }
    template <std::invocable<connection&> F>
    auto read(F&& fn, const deadline& limit = {}) {
        return postgres::read(reader_, std::forward<F>(fn), limit);
    }

    [[nodiscard]] pool_type& writer() noexcept { return writer_; }
    [[nodiscard]] pool_type& reader() noexcept { return reader_; }
    void close() {
        reader_.close();
        writer_.close();
    }

private:
    static pool_config with_database(pool_config config, std::string conninfo) {
        config.database = std::move(conninfo);
        return config;
    }

    pool_type writer_;
    pool_type reader_;
};

} // namespace sqlpool::postgres
