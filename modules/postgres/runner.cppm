// runner: write() and read() for a PostgreSQL pool, as the SQLite pool's: fn(connection&) runs in
// a transaction on a leased session and commits; a serialization failure or deadlock (40001,
// 40P01) rolls back and runs fn again after a jittered, growing pause, a broken connection runs
// it again at once on another session; both until the pool's transaction_timeout or the call's
// deadline. A COMMIT whose answer was lost (commit_unknown_error) is never run again.
module;
#include "gmf.hpp"
export module sqlpool.postgres:runner;
import sqlpool;
import :connection;
import :isolation;
import :transaction;

namespace sqlpool::postgres::detail {

// A read-only transaction commits nothing: its lost COMMIT answer is a lost connection, which
// the runner may run again; a read-write one stays commit_unknown_error.
inline void commit(transaction& tx, access_mode access) {
    try {
        tx.commit();
    } catch (const commit_unknown_error& lost) {
        if (access == access_mode::read_write) throw;
        throw connection_lost_error(lost.sqlstate(), lost.server_message(), lost.sql());
    }
}

template <class F>
auto run_once(connection& conn, isolation_level level, access_mode access, F& fn)
    -> std::invoke_result_t<F&, connection&> {
    transaction tx = conn.begin(level, access);
    if constexpr (std::is_void_v<std::invoke_result_t<F&, connection&>>) {
        fn(conn);
        commit(tx, access);
    } else {
        auto result = fn(conn);
        commit(tx, access);
        return result;
    }
}

// The pause before the next attempt, or the error that ends the call when it would pass `until`.
inline void pause_or_give_up(const server_error& failure, std::uint64_t attempt,
                             std::chrono::microseconds& pause, std::chrono::steady_clock::time_point until,
                             const deadline& limit) {
    thread_local std::minstd_rand jitter{std::random_device{}()};
    const auto now = std::chrono::steady_clock::now();
    if (limit.stop_requested())
        throw cancelled_error("the call was cancelled after " + std::to_string(attempt) +
                              " attempt(s): " + failure.what());
    if (now + pause >= until) {
        const std::string why =
            "gave up after " + std::to_string(attempt) + " attempt(s): " + failure.server_message();
        if (dynamic_cast<const serialization_error*>(&failure) != nullptr)
            throw serialization_error(failure.sqlstate(), why, failure.sql());
        throw connection_lost_error(failure.sqlstate(), why, failure.sql());
    }
    std::uniform_int_distribution<std::int64_t> spread(pause.count() / 2, pause.count());
    std::this_thread::sleep_for(std::chrono::microseconds(spread(jitter)));
    pause = std::min<std::chrono::microseconds>(pause * 2, std::chrono::milliseconds(50));
}

template <class Pool, class F>
auto run_transaction(Pool& pool, isolation_level level, access_mode access, const deadline& limit, F& fn)
    -> std::invoke_result_t<F&, connection&> {
    const auto started = std::chrono::steady_clock::now();
    const auto timeout = std::min(pool.config().transaction_timeout, pool_config::max_duration);
    const auto until = std::min(started + timeout, limit.at());
    auto pause = std::chrono::microseconds(500);
    for (std::uint64_t attempt = 1;; ++attempt) {
        try {
            auto lease = pool.acquire(limit);
            return run_once(*lease, level, access, fn);
        } catch (const serialization_error& failure) {
            pause_or_give_up(failure, attempt, pause, until, limit);
        } catch (const connection_lost_error& failure) {
            // The session retired when its lease went back (and a failed open leased none): the
            // next attempt gets another, on a server that may be coming back.
            pause_or_give_up(failure, attempt, pause, until, limit);
        }
    }
}

} // namespace sqlpool::postgres::detail

export namespace sqlpool::postgres {

// fn(connection&) in a transaction at the pool's Isolation::write_level. fn may run more than once.
template <class Pool, std::invocable<connection&> F>
auto write(Pool& pool, F&& fn, const deadline& limit = {}) -> std::invoke_result_t<F&, connection&> {
    return detail::run_transaction(pool, Pool::isolation_type::write_level, access_mode::read_write, limit,
                                   fn);
}

// fn(connection&) in a READ ONLY transaction at the pool's Isolation::default_level: a write in
// it fails (SQLSTATE 25006) instead of reaching the database.
template <class Pool, std::invocable<connection&> F>
auto read(Pool& pool, F&& fn, const deadline& limit = {}) -> std::invoke_result_t<F&, connection&> {
    return detail::run_transaction(pool, Pool::isolation_type::default_level, access_mode::read_only, limit,
                                   fn);
}

} // namespace sqlpool::postgres
