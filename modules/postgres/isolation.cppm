// isolation: PostgreSQL's transaction isolation levels and access modes
// (https://www.postgresql.org/docs/15/transaction-iso.html, .../sql-set-transaction.html), and the
// stock isolation policies of a PostgreSQL pool.
module;
#include "gmf.hpp"
export module sqlpool.postgres:isolation;
import sqlpool;

export namespace sqlpool::postgres {

enum class isolation_level : std::uint8_t { read_committed, repeatable_read, serializable };

// read_only: writes fail (SQLSTATE 25006). read_only_deferrable: under SERIALIZABLE, waits for a
// snapshot that can never fail with a serialization error (elsewhere the same as read_only).
enum class access_mode : std::uint8_t { read_write, read_only, read_only_deferrable };

// The BEGIN statement for a level and an access mode.
[[nodiscard]] constexpr std::string_view begin_statement(isolation_level level, access_mode access) noexcept {
    constexpr std::array<std::array<std::string_view, 3>, 3> statements{{
        {"BEGIN ISOLATION LEVEL READ COMMITTED", "BEGIN ISOLATION LEVEL READ COMMITTED READ ONLY",
         "BEGIN ISOLATION LEVEL READ COMMITTED READ ONLY DEFERRABLE"},
        {"BEGIN ISOLATION LEVEL REPEATABLE READ", "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
         "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY DEFERRABLE"},
        {"BEGIN ISOLATION LEVEL SERIALIZABLE", "BEGIN ISOLATION LEVEL SERIALIZABLE READ ONLY",
         "BEGIN ISOLATION LEVEL SERIALIZABLE READ ONLY DEFERRABLE"},
    }};
    return statements.at(static_cast<std::size_t>(level)).at(static_cast<std::size_t>(access));
}

[[nodiscard]] constexpr const char* to_string(isolation_level level) noexcept {
    switch (level) {
    case isolation_level::read_committed:
        return "read_committed";
    case isolation_level::repeatable_read:
        return "repeatable_read";
    case isolation_level::serializable:
        return "serializable";
    }
    return "?";
}

} // namespace sqlpool::postgres

// The isolation policies (sqlpool::isolation_policy over postgres::isolation_level): the level
// transactions begin at (default_level) and the one write() begins at (write_level). read() begins
// the default level READ ONLY.
export namespace sqlpool::postgres::isolation {

struct read_committed {
    static constexpr isolation_level default_level = isolation_level::read_committed;
    static constexpr isolation_level write_level = isolation_level::read_committed;
};

struct repeatable_read {
    static constexpr isolation_level default_level = isolation_level::repeatable_read;
    static constexpr isolation_level write_level = isolation_level::repeatable_read;
};

// Every transaction SERIALIZABLE: conflicts fail with 40001, which write() and read() run again.
struct serializable {
    static constexpr isolation_level default_level = isolation_level::serializable;
    static constexpr isolation_level write_level = isolation_level::serializable;
};

} // namespace sqlpool::postgres::isolation
