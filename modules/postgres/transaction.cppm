// transaction and savepoint on a PostgreSQL session: RAII guards over BEGIN / COMMIT / ROLLBACK
// and SAVEPOINT / RELEASE SAVEPOINT / ROLLBACK TO SAVEPOINT
// (https://www.postgresql.org/docs/15/sql-savepoint.html), shaped as sqlpool's SQLite ones.
module;
#include "gmf.hpp"
export module sqlpool.postgres:transaction;
import sqlpool;

export namespace sqlpool::postgres {

class connection;

namespace detail {
// Shared by a transaction and its savepoints, so either may outlive the other.
struct transaction_state {
    connection* conn = nullptr;
    bool active = false;
    std::size_t depth = 0;       // savepoints open
    std::uint64_t next_name = 0; // savepoint names are generated, never taken from users
};
} // namespace detail

// A savepoint inside a transaction: release() keeps its changes, rollback() undoes them; the
// destructor rolls back one still open. Only the innermost open savepoint may end.
class savepoint {
public:
    savepoint(const savepoint&) = delete;
    savepoint& operator=(const savepoint&) = delete;
    savepoint(savepoint&& other) noexcept
        : state_(std::move(other.state_)), depth_(other.depth_), name_(std::move(other.name_)),
          open_(std::exchange(other.open_, false)) {}
    savepoint& operator=(savepoint&&) = delete;
    ~savepoint();

    void release();
    void rollback();

private:
    friend class transaction;
    explicit savepoint(std::shared_ptr<detail::transaction_state> state);
    void end(const std::string& sql);

    std::shared_ptr<detail::transaction_state> state_;
    std::size_t depth_ = 0;
    std::string name_;
    bool open_ = true;
};

// A transaction: commit() makes it durable, rollback() or the destructor undoes it. commit() of a
// transaction in which a statement failed throws transaction_error (PostgreSQL answers such a
// COMMIT with ROLLBACK); commit_unknown_error when the connection broke before COMMIT's answer.
class transaction {
public:
    transaction(connection& conn, std::string_view begin_sql);
    transaction(const transaction&) = delete;
    transaction& operator=(const transaction&) = delete;
    transaction(transaction&&) noexcept = default;
    transaction& operator=(transaction&&) = delete;
    ~transaction();

    void commit();
    void rollback();
    [[nodiscard]] postgres::savepoint savepoint();
    [[nodiscard]] bool active() const noexcept { return state_ && state_->active; }

private:
    std::shared_ptr<detail::transaction_state> state_;
};

} // namespace sqlpool::postgres
