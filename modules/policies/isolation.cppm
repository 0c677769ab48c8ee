// Isolation policies: the BEGIN mode a pool's transactions use when the caller names none.
module;
#include "../detail/gmf.hpp"
export module sqlpool:isolation;
import :sqlite;

export namespace sqlpool {

// An isolation policy names the level begin() uses by default (`default_level`) and the level
// the write() runner uses (`write_level`), as levels of its session's database (`Level`: SQLite's
// BEGIN modes unless named).
template <class I, class Level = isolation_level>
concept isolation_policy = requires {
    { I::default_level } -> std::convertible_to<Level>;
    { I::write_level } -> std::convertible_to<Level>;
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
