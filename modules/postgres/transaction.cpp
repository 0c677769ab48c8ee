// transaction's and savepoint's definitions (see :transaction).
module;
#include "gmf.hpp"
module sqlpool.postgres;
import sqlpool;

namespace sqlpool::postgres {

transaction::transaction(connection& conn, std::string_view begin_sql)
    : state_(std::make_shared<detail::transaction_state>()) {
    // A broken connection's status is PQTRANS_UNKNOWN: BEGIN then fails as connection_lost_error.
    const PGTransactionStatusType status =
        conn.native() != nullptr ? PQtransactionStatus(conn.native()) : PQTRANS_UNKNOWN;
    if (status == PQTRANS_INTRANS || status == PQTRANS_INERROR || status == PQTRANS_ACTIVE)
        throw transaction_error(
            "a transaction is already open on this connection; use a savepoint inside it");
    (void)conn.run_simple(begin_sql);
    state_->conn = &conn;
    state_->active = true;
}

transaction::~transaction() {
    if (!active()) return;
    try {
        rollback();
    } catch (...) {
        // Deliberately ignored: the session's reset on return rolls back, or retires a broken one.
    }
}

// COMMIT whose answer never came may have committed: commit_unknown_error, never a plain retry.
// A COMMIT the server answers with ROLLBACK (a statement had failed) is not acknowledged.
void transaction::commit() {
    if (!active()) throw transaction_error("commit() of a transaction that is no longer active");
    state_->active = false;
    connection& conn = *state_->conn;
    if (conn.broken_code() != 0)
        throw connection_lost_error(sqlstate_text(conn.broken_code()), "the connection broke before COMMIT",
                                    "COMMIT");
    result answer;
    try {
        answer = conn.run_simple("COMMIT");
    } catch (const connection_lost_error& lost) {
        throw commit_unknown_error(
            lost.sqlstate(),
            "the connection broke before COMMIT was answered; the transaction may or may "
            "not have committed: " +
                lost.server_message(),
            "COMMIT");
    }
    if (answer.command_tag() == "ROLLBACK")
        throw transaction_error("COMMIT rolled back: a statement of the transaction had failed");
}

void transaction::rollback() {
    if (!active()) return;
    state_->active = false;
    (void)state_->conn->run_simple("ROLLBACK");
}

postgres::savepoint transaction::savepoint() {
    if (!active()) throw transaction_error("a savepoint needs an active transaction");
    return postgres::savepoint(state_);
}

savepoint::savepoint(std::shared_ptr<detail::transaction_state> state)
    : state_(std::move(state)), depth_(state_->depth + 1),
      name_("sqlpool_sp_" + std::to_string(state_->next_name++)) {
    (void)state_->conn->run_simple("SAVEPOINT " + name_);
    state_->depth = depth_;
}

savepoint::~savepoint() {
    if (!open_ || !state_->active || state_->depth != depth_) return;
    try {
        rollback();
    } catch (...) {
        // Deliberately ignored: the transaction's own guard rolls back.
    }
}

void savepoint::release() {
    end("RELEASE SAVEPOINT " + name_);
}

void savepoint::rollback() {
    end("ROLLBACK TO SAVEPOINT " + name_ + "; RELEASE SAVEPOINT " + name_);
}

void savepoint::end(const std::string& sql) {
    if (!open_) throw transaction_error("savepoint " + name_ + " has already ended");
    if (!state_->active) throw transaction_error("the transaction of savepoint " + name_ + " has ended");
    if (state_->depth != depth_)
        throw transaction_error("savepoint " + name_ + " is not the innermost one open");
    open_ = false;
    state_->depth = depth_ - 1;
    (void)state_->conn->run_simple(sql);
}

} // namespace sqlpool::postgres
