// connection's definitions (see :connection): connecting, running statements through libpq's
// asynchronous calls (https://www.postgresql.org/docs/15/libpq-async.html), the prepared-statement
// cache and the reset on return.
module;
#include "gmf.hpp"
module sqlpool.postgres;
import sqlpool;

namespace sqlpool::postgres {

namespace {

// Why this session cancelled the statement it ran.
constexpr int cancelled_at_deadline = 1;
constexpr int cancelled_on_stop = 2;
constexpr int cancelled_by_pool = 3;
// How often a running statement looks at its deadline and the pool's board.
constexpr std::chrono::milliseconds tick{50};
// How long a cancelled statement may take to answer before the connection counts as lost.
constexpr std::chrono::seconds cancel_grace{5};

std::string trimmed(std::string_view text) {
    while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.remove_suffix(1);
    return std::string(text);
}

void ignore_notice(void*, const char*) {}

} // namespace

connection::connection(connection_options options) : options_(std::move(options)) {
    std::vector<const char*> keys{"dbname"};
    std::vector<const char*> values{options_.conninfo.c_str()};
    for (const auto& [key, value] : options_.parameters) {
        keys.push_back(key.c_str());
        values.push_back(value.c_str());
    }
    keys.push_back(nullptr);
    values.push_back(nullptr);
    conn_ = PQconnectdbParams(keys.data(), values.data(), 1);
    if (conn_ == nullptr) throw std::bad_alloc();
    if (PQstatus(conn_) != CONNECTION_OK) {
        std::string message = trimmed(PQerrorMessage(conn_));
        close();
        throw connection_lost_error("08001", "could not connect: " + message, "");
    }
    PQsetNoticeProcessor(conn_, ignore_notice, nullptr);
    cancel_ = PQgetCancel(conn_);
}

connection::connection(connection&& other) noexcept
    : conn_(std::exchange(other.conn_, nullptr)), cancel_(std::exchange(other.cancel_, nullptr)),
      options_(std::move(other.options_)), level_(other.level_), prepared_(std::move(other.prepared_)),
      prepared_order_(std::move(other.prepared_order_)), next_statement_(other.next_statement_),
      limit_(std::move(other.limit_)), board_(std::exchange(other.board_, nullptr)), broken_(other.broken_),
      changed_(other.changed_), used_(other.used_) {}

connection& connection::operator=(connection&& other) noexcept {
    if (this != &other) {
        close();
        conn_ = std::exchange(other.conn_, nullptr);
        cancel_ = std::exchange(other.cancel_, nullptr);
        options_ = std::move(other.options_);
        level_ = other.level_;
        prepared_ = std::move(other.prepared_);
        prepared_order_ = std::move(other.prepared_order_);
        next_statement_ = other.next_statement_;
        limit_ = std::move(other.limit_);
        board_ = std::exchange(other.board_, nullptr);
        broken_ = other.broken_;
        changed_ = other.changed_;
        used_ = other.used_;
    }
    return *this;
}

connection::~connection() {
    close();
}

void connection::close() noexcept {
    if (cancel_ != nullptr) PQfreeCancel(std::exchange(cancel_, nullptr));
    if (conn_ != nullptr) PQfinish(std::exchange(conn_, nullptr));
}

void connection::before_statement(std::string_view sql) {
    if (conn_ == nullptr) throw misuse_error("use of a moved-from postgres::connection");
    if (broken_ != 0)
        throw connection_lost_error(sqlstate_text(broken_), "the connection broke earlier", std::string(sql));
    if (limit_.passed()) {
        if (limit_.stop_requested())
            throw cancelled_error("the call was cancelled before: " + std::string(sql));
        throw timeout_error("the call's deadline passed before: " + std::string(sql),
                            std::chrono::nanoseconds::zero());
    }
    used_ = true;
    cancelled_ = 0;
}

result connection::run_simple(std::string_view sql) {
    before_statement(sql);
    const std::string text(sql);
    if (PQsendQuery(conn_, text.c_str()) == 0) throw_lost(sql);
    if (changes_session(sql)) changed_ = true;
    return collect(sql);
}

result connection::run_prepared(std::string_view sql, std::span<const char* const> values,
                                std::span<const int> lengths) {
    before_statement(sql);
    const int count = static_cast<int>(values.size());
    int sent = 0;
    if (options_.statement_cache_size == 0) {
        const std::string text(sql);
        if (changes_session(sql)) changed_ = true;
        sent =
            PQsendQueryParams(conn_, text.c_str(), count, nullptr, values.data(), lengths.data(), nullptr, 0);
    } else {
        const prepared_statement& stmt = prepared(sql);
        if (stmt.changes_session) changed_ = true;
        sent =
            PQsendQueryPrepared(conn_, stmt.name.c_str(), count, values.data(), lengths.data(), nullptr, 0);
    }
    if (sent == 0) throw_lost(sql);
    return collect(sql);
}

const connection::prepared_statement& connection::prepared(std::string_view sql) {
    if (const auto found = prepared_.find(sql); found != prepared_.end()) return found->second;
    if (prepared_.size() >= options_.statement_cache_size) {
        // The oldest goes; a failure to deallocate leaves it on the server until DISCARD ALL or close.
        const std::string name = prepared_.at(prepared_order_.front()).name;
        prepared_.erase(prepared_order_.front());
        prepared_order_.pop_front();
        if (PQsendQuery(conn_, ("DEALLOCATE " + name).c_str()) == 0) throw_lost(sql);
        (void)collect(sql);
    }
    prepared_statement stmt{"sqlpool_" + std::to_string(next_statement_++), changes_session(sql)};
    const std::string text(sql);
    if (PQsendPrepare(conn_, stmt.name.c_str(), text.c_str(), 0, nullptr) == 0) throw_lost(sql);
    (void)collect(sql);
    prepared_order_.push_back(text);
    return prepared_.emplace(text, std::move(stmt)).first->second;
}

void connection::forget_prepared() noexcept {
    prepared_.clear();
    prepared_order_.clear();
}

// Every result of what was sent; the last one is returned (as PQexec does), the first failure thrown.
result connection::collect(std::string_view sql) {
    result last;
    result failure;
    bool shown = false;
    for (;;) {
        while (PQisBusy(conn_) != 0) shown = wait_readable(sql, shown);
        PGresult* raw = PQgetResult(conn_);
        if (raw == nullptr) break;
        result res(raw);
        const ExecStatusType status = PQresultStatus(raw);
        if (status == PGRES_FATAL_ERROR) {
            if (failure.native() == nullptr) failure = std::move(res);
        } else if (status == PGRES_COPY_IN || status == PGRES_COPY_OUT || status == PGRES_COPY_BOTH) {
            end_copy(status);
        } else {
            note_command(res);
            last = std::move(res);
        }
    }
    if (shown && board_ != nullptr) board_->show("");
    if (failure.native() != nullptr) throw_failure(failure, sql);
    if (PQstatus(conn_) == CONNECTION_BAD) throw_lost(sql);
    return last;
}

// COPY is not run through exec(): it is ended at once, so that the connection stays usable.
void connection::end_copy(ExecStatusType status) {
    if (status == PGRES_COPY_IN) {
        (void)PQputCopyEnd(conn_, "COPY FROM STDIN is not supported through sqlpool's exec()");
        return;
    }
    char* row = nullptr;
    while (PQgetCopyData(conn_, &row, 0) > 0) PQfreemem(row);
}

// Waits for the server's answer a tick at a time: on each tick the statement shows on the pool's
// board, and is cancelled when the board orders it, the deadline passes or its stop is requested.
bool connection::wait_readable(std::string_view sql, bool shown) {
    const int fd = PQsocket(conn_);
    if (fd < 0) throw_lost(sql);
    pollfd ready{fd, POLLIN, 0};
    const int polled = ::poll(&ready, 1, static_cast<int>(tick.count()));
    if (polled < 0 && errno != EINTR) throw_lost(sql);
    if (polled > 0) {
        if (PQconsumeInput(conn_) == 0) throw_lost(sql);
        return shown;
    }
    if (board_ != nullptr && !shown) {
        board_->show(sql);
        shown = true;
    }
    if (cancelled_ == 0) {
        if (board_ != nullptr && board_->interrupting())
            cancel_for(cancelled_by_pool);
        else if (limit_.stop_requested())
            cancel_for(cancelled_on_stop);
        else if (limit_.passed())
            cancel_for(cancelled_at_deadline);
    } else if (std::chrono::steady_clock::now() - cancelled_at_ > cancel_grace) {
        throw_lost(sql); // cancelled, and no answer: the server or the network is gone
    }
    return shown;
}

void connection::cancel_for(int reason) noexcept {
    cancelled_ = reason;
    cancelled_at_ = std::chrono::steady_clock::now();
    interrupt();
}

void connection::interrupt() noexcept {
    std::array<char, 256> message{};
    if (cancel_ != nullptr) (void)PQcancel(cancel_, message.data(), static_cast<int>(message.size()));
}

void connection::throw_failure(const result& res, std::string_view sql) {
    const char* state = PQresultErrorField(res.native(), PG_DIAG_SQLSTATE);
    std::string code(state != nullptr ? state : lost_connection_state);
    const char* primary = PQresultErrorField(res.native(), PG_DIAG_MESSAGE_PRIMARY);
    std::string message = trimmed(primary != nullptr ? primary : PQresultErrorMessage(res.native()));
    if (code == "57014" && cancelled_ != 0) {
        const int why = std::exchange(cancelled_, 0);
        if (why == cancelled_by_pool)
            throw pool_closed_error("the pool was closed while this statement ran: " + std::string(sql));
        if (why == cancelled_on_stop)
            throw cancelled_error("the call was cancelled while this ran: " + std::string(sql));
        throw timeout_error("the call's deadline passed while this ran: " + std::string(sql),
                            std::chrono::nanoseconds::zero());
    }
    if (classify_sqlstate(code) == error_action::retire || PQstatus(conn_) == CONNECTION_BAD)
        broken_ =
            sqlstate_code(classify_sqlstate(code) == error_action::retire ? code : lost_connection_state);
    throw_server_error(std::move(code), std::move(message), std::string(sql));
}

void connection::throw_lost(std::string_view sql) {
    broken_ = sqlstate_code(lost_connection_state);
    throw connection_lost_error(std::string(lost_connection_state), trimmed(PQerrorMessage(conn_)),
                                std::string(sql));
}

// DISCARD ALL and DEALLOCATE ALL (a borrower's own) drop every prepared statement: the cache forgets
// them. (The cache's own DEALLOCATE of one statement is tagged "DEALLOCATE".)
void connection::note_command(const result& res) noexcept {
    const std::string_view tag = res.command_tag();
    if (tag == "DISCARD ALL" || tag == "DEALLOCATE ALL") forget_prepared();
}

int connection::broken_code() const noexcept {
    if (broken_ != 0) return broken_;
    if (conn_ == nullptr || PQstatus(conn_) != CONNECTION_OK) return sqlstate_code(lost_connection_state);
    return 0;
}

// https://www.postgresql.org/docs/15/sql-discard.html: DISCARD ALL cannot run in a transaction, so
// an open one is rolled back first.
reset_verdict connection::reset_for_reuse() {
    limit_ = deadline{};
    if (broken_code() != 0) return reset_verdict::retire;
    if (!used_) return reset_verdict::clean;
    try {
        bool restored = false;
        const PGTransactionStatusType status = PQtransactionStatus(conn_);
        if (status == PQTRANS_INTRANS || status == PQTRANS_INERROR) {
            (void)run_simple("ROLLBACK");
            restored = true;
        } else if (status != PQTRANS_IDLE) {
            return reset_verdict::retire;
        }
        if (changed_ || options_.reset == reset_mode::discard_always) {
            (void)run_simple("DISCARD ALL");
            restored = true;
        }
        changed_ = false;
        used_ = false;
        return restored ? reset_verdict::restored : reset_verdict::clean;
    } catch (...) {
        return reset_verdict::retire;
    }
}

bool connection::ping() {
    if (broken_code() != 0 || PQtransactionStatus(conn_) != PQTRANS_IDLE) return false;
    const bool was_used = used_;
    try {
        (void)run_simple(""); // an empty query: one round trip, nothing run
    } catch (const error&) {
        return false;
    }
    used_ = was_used;
    return true;
}

} // namespace sqlpool::postgres
