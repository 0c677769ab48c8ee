// Isolation policies: the BEGIN mode a pool's transactions use when the caller names none.
module;
#include "../detail/gmf.hpp"
export module sqlpool:isolation;
import :sqlite;

export namespace sqlpool {

// An isolation policy names the level begin() uses by default (`default_level`) and the level
// the write() runner uses (`write_level`).
template <class I>
concept isolation_policy = requires {
    { I::default_level } -> std::convertible_to<isolation_level>;
    { I::write_level } -> std::convertible_to<isolation_level>;
};

} // namespace sqlpool

export namespace sqlpool::isolation {

// BEGIN DEFERRED by default; writes through write() begin IMMEDIATE, so they never need to
// upgrade a read lock (the upgrade is what fails with SQLITE_BUSY without waiting).
struct deferred {
    static constexpr isolation_level default_level = isolation_level::deferred;
    static constexpr isolation_level write_level = isolation_level::immediate;
};

struct immediate {
    static constexpr isolation_level default_level = isolation_level::immediate;
    static constexpr isolation_level write_level = isolation_level::immediate;
};

// In WAL mode EXCLUSIVE behaves as IMMEDIATE (https://sqlite.org/lang_transaction.html).
struct exclusive {
    static constexpr isolation_level default_level = isolation_level::exclusive;
    static constexpr isolation_level write_level = isolation_level::exclusive;
};

} // namespace sqlpool::isolation

export namespace sqlpool::isolation {

// One writer connection, handed to write() callers first come, first served, and reader
// connections opened with PRAGMA query_only for read() and acquire(). Inside one process writers
// never contend with each other, so write() never surfaces SQLITE_BUSY caused by its own pool; in
// WAL mode readers are never blocked by the writer. A reader can hold the write lock for an
// instant, when it catches the WAL-index header mid-update and re-reads it under that lock
// (SQLite's wal.c); the busy handler absorbs that, or the runner retries it when busy_timeout is 0.
// Readers get max(1, max_connections - 1) connections.
struct read_write_split {
    static constexpr isolation_level default_level = isolation_level::deferred;
    static constexpr isolation_level write_level = isolation_level::immediate;
    static constexpr bool split = true;
};

} // namespace sqlpool::isolation

namespace sqlpool::detail {

template <class I>
constexpr bool splits_reads_and_writes() {
    if constexpr (requires { I::split; })
        return static_cast<bool>(I::split);
    else
        return false;
}

} // namespace sqlpool::detail
