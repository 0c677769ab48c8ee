// The exception hierarchy. Every failure sqlpool reports is an sqlpool::error; the subclasses tell a
// caller what it can do about it (retry a busy_error, fix its code on a misuse_error, ...).
module;
#include "detail/gmf.hpp"
export module sqlpool:errors;
import :stats;

export namespace sqlpool {

class error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// A call into SQLite failed. code() is the primary result code, extended_code() the extended one
// (SQLITE_IOERR_WRITE, ...); sql() is the statement text that failed, when there was one.
class sqlite_error : public error {
public:
    sqlite_error(int extended_code, std::string sqlite_message, std::string sql)
        : error(describe(extended_code, sqlite_message, sql)), extended_code_(extended_code),
          sqlite_message_(std::move(sqlite_message)), sql_(std::move(sql)) {}

    [[nodiscard]] int code() const noexcept { return extended_code_ & 0xff; }
    [[nodiscard]] int extended_code() const noexcept { return extended_code_; }
    [[nodiscard]] const std::string& sqlite_message() const noexcept { return sqlite_message_; }
    [[nodiscard]] const std::string& sql() const noexcept { return sql_; }

private:
    static std::string describe(int extended_code, const std::string& message, const std::string& sql) {
        std::string text = "sqlite error " + std::to_string(extended_code) + " (" +
                           sqlite3_errstr(extended_code) + "): " + message;
        if (!sql.empty()) text += " [sql: " + sql + "]";
        return text;
    }

    int extended_code_;
    std::string sqlite_message_;
    std::string sql_;
};

// SQLITE_BUSY, SQLITE_BUSY_SNAPSHOT or SQLITE_LOCKED: another connection holds a lock. Retryable:
// roll back the transaction and run it again (the pool's read()/write() runner does this).
class busy_error : public sqlite_error {
public:
    using sqlite_error::sqlite_error;
};

// The database file was deleted or replaced (by a rename, say) while a connection had it open:
// what the call wrote is not in the file at the path, so the call failed instead of being
// acknowledged. extended_code() is SQLITE_READONLY_DBMOVED. The connection is retired; write() and
// read() run the call again on a connection to the file now at the path.
class database_moved_error : public sqlite_error {
public:
    database_moved_error(std::string message, std::string sql)
        : sqlite_error(SQLITE_READONLY_DBMOVED, std::move(message), std::move(sql)) {}
};

// The caller used the API wrongly: a column read as the wrong type, a bind index out of range, a
// moved-from object used. Retrying does not help; the calling code must change.
class misuse_error : public error {
public:
    using error::error;
};

// A configuration was invalid. problems() lists every violation; what() joins them with "; ".
class config_error : public error {
public:
    explicit config_error(std::vector<std::string> problems)
        : error(join(problems)), problems_(std::move(problems)) {}

    [[nodiscard]] const std::vector<std::string>& problems() const noexcept { return problems_; }

private:
    static std::string join(const std::vector<std::string>& problems) {
        std::string text = "invalid configuration: ";
        for (std::size_t i = 0; i < problems.size(); ++i) {
            if (i != 0) text += "; ";
            text += problems[i];
        }
        return text;
    }

    std::vector<std::string> problems_;
};

// A hook of the user's (pool_config::on_connect) threw something that is not a sqlpool::error. The
// original exception is nested in it: std::rethrow_if_nested(e) rethrows it.
class hook_error : public error {
public:
    using error::error;
};

// A database service operation was called in a state that does not allow it (exec() before
// start(), start() while stopping, ...).
class state_error : public error {
public:
    using error::error;
};

// The database service's schema: a migration failed (it was rolled back), the file's schema is
// newer than the code, or a declared table or column is missing.
class schema_error : public error {
public:
    using error::error;
};

// A component of a sqlpool::host failed to start (the host then stopped the ones it had started).
// component() names it; the component's own exception is nested: std::rethrow_if_nested(e).
class start_error : public error {
public:
    start_error(std::string component, const std::string& why)
        : error("component '" + component + "' failed to start: " + why), component_(std::move(component)) {}

    [[nodiscard]] const std::string& component() const noexcept { return component_; }

private:
    std::string component_;
};

// A transaction or savepoint was used in an order SQLite or sqlpool cannot honour.
class transaction_error : public error {
public:
    using error::error;
};

// acquire() waited acquire_timeout (or the time given) and got no connection, or a call's
// sqlpool::deadline passed: while it waited for a connection or a lock, or while a statement ran
// (the statement was interrupted, and its transaction rolls back). stats() is the pool's snapshot
// when it waited for a connection, empty otherwise.
// holders() are the leases out at that moment, longest held first (what() names the first).
class timeout_error : public error {
public:
    timeout_error(const std::string& what, std::chrono::nanoseconds waited, pool_stats stats = {},
                  std::vector<lease_holder> holders = {})
        : error(what), waited_(waited), stats_(stats),
          holders_(std::make_shared<const std::vector<lease_holder>>(std::move(holders))) {}
    [[nodiscard]] std::chrono::nanoseconds waited() const noexcept { return waited_; }
    [[nodiscard]] const pool_stats& stats() const noexcept { return stats_; }
    [[nodiscard]] const std::vector<lease_holder>& holders() const noexcept { return *holders_; }

private:
    std::chrono::nanoseconds waited_;
    pool_stats stats_;
    std::shared_ptr<const std::vector<lease_holder>> holders_; // shared: copying an exception must not throw
};

// A thread that holds a lease of a pool asked the same pool for another while every lease was held
// by a thread waiting for one more (itself among them): none would ever be returned, and without
// the check they would all wait out acquire_timeout. held_at() is where it acquired the lease it
// holds, asked_at() where it asked again. pool_config::detect_nested_acquire turns the check off.
class nested_acquire_error : public error {
public:
    nested_acquire_error(const std::string& what, std::source_location held_at, std::source_location asked_at)
        : error(what), held_at_(held_at), asked_at_(asked_at) {}
    [[nodiscard]] std::source_location held_at() const noexcept { return held_at_; }
    [[nodiscard]] std::source_location asked_at() const noexcept { return asked_at_; }

private:
    std::source_location held_at_;
    std::source_location asked_at_;
};

// A call's sqlpool::deadline had its stop_token asked to stop: the wait or the statement it
// interrupted was given up (a transaction rolls back), nothing of the call is acknowledged.
class cancelled_error : public error {
public:
    using error::error;
};

// A backup, a VACUUM INTO or a restore could not be made, or its source or copy is not a sound
// database; what the pool serves and what stood at the destination are unchanged.
class backup_error : public error {
public:
    using error::error;
};

// A PostgreSQL server (through libpq, module sqlpool.postgres) reported an error, or libpq could
// not reach it. sqlstate() is the five-character SQLSTATE ("23505"; "08006" when libpq lost the
// connection without the server saying why), server_message() what the server or libpq said,
// sql() the statement that failed, when there was one.
class server_error : public error {
public:
    server_error(std::string sqlstate, std::string server_message, std::string sql)
        : error(describe(sqlstate, server_message, sql)), sqlstate_(std::move(sqlstate)),
          server_message_(std::move(server_message)), sql_(std::move(sql)) {}

    [[nodiscard]] const std::string& sqlstate() const noexcept { return sqlstate_; }
    [[nodiscard]] const std::string& server_message() const noexcept { return server_message_; }
    [[nodiscard]] const std::string& sql() const noexcept { return sql_; }

private:
    static std::string describe(const std::string& sqlstate, const std::string& message,
                                const std::string& sql) {
        std::string text = "server error " + sqlstate + ": " + message;
        if (!sql.empty()) text += " [sql: " + sql + "]";
        return text;
    }

    std::string sqlstate_;
    std::string server_message_;
    std::string sql_;
};

// SQLSTATE 40001 (serialization_failure) or 40P01 (deadlock_detected): the transaction was rolled
// back and may simply run again; the PostgreSQL runner does so, as the SQLite one does on busy_error.
class serialization_error : public server_error {
public:
    using server_error::server_error;
};

// The connection to the server broke (SQLSTATE class 08, an administrator's shutdown or
// pg_terminate_backend: 57P01..57P03, or libpq lost the socket): nothing of the open transaction
// is committed, and the session is retired.
class connection_lost_error : public server_error {
public:
    using server_error::server_error;
};

// COMMIT was sent and the connection broke before the server answered: the transaction may or
// may not have committed. Never run again by the runner (it could commit twice); the caller must
// look at the database to know.
class commit_unknown_error : public server_error {
public:
    using server_error::server_error;
};

// The pool was closed: it hands out no more connections.
class pool_closed_error : public error {
public:
    using error::error;
};

} // namespace sqlpool
