// The limits on a running statement: the call's deadline (its busy and progress handlers), the
// read-transaction cap of the file's reader gate and the pool's interrupt order on its session_board,
// behind connection_core's declarations in modules/sqlite/statement_cache.cppm. The progress
// handler also shows on the board what has run for a while.
module;
#include "../detail/gmf.hpp"
module sqlpool;

namespace sqlpool::detail {

namespace {

using steady = std::chrono::steady_clock;

// The progress handler runs every this many virtual machine instructions
// (https://sqlite.org/c3ref/progress_handler.html): tens of microseconds of work, so that an
// interrupt comes that soon, at the cost of one call per that many instructions.
constexpr int progress_period = 1000;

// True when `sql` begins with keyword `word` (upper case), ignoring case and leading space.
bool begins_with(std::string_view sql, std::string_view word) noexcept {
    const auto start = sql.find_first_not_of(" \t\r\n");
    if (start == std::string_view::npos) return false;
    sql.remove_prefix(start);
    return sql.size() >= word.size() &&
           std::ranges::equal(sql.substr(0, word.size()), word,
                              [](char a, char b) { return (a >= 'a' && a <= 'z' ? a - 32 : a) == b; });
}

// A statement that ends a transaction (or a savepoint): the cap lets it through.
bool ends_transaction(std::string_view sql) noexcept {
    return begins_with(sql, "COMMIT") || begins_with(sql, "END") || begins_with(sql, "ROLLBACK") ||
           begins_with(sql, "RELEASE");
}

} // namespace

void connection_core::set_limit(const deadline& limit, std::chrono::milliseconds busy_timeout) noexcept {
    limit_ = limit;
    limited_ = true;
    touched_ = true;
    busy_timeout_ = busy_timeout;
    (void)sqlite3_busy_handler(db_, &connection_core::on_busy, this);
}

void connection_core::clear_limit(std::chrono::milliseconds busy_timeout) noexcept {
    limit_ = deadline{};
    limited_ = false;
    cause_ = stop_cause::none;
    (void)sqlite3_busy_timeout(db_, static_cast<int>(busy_timeout.count()));
}

void connection_core::watch_progress() noexcept {
    sqlite3_progress_handler(db_, progress_period, &connection_core::on_progress, this);
}

void connection_core::attach(session_board& board) noexcept {
    board_ = &board;
    shown_ = false;
    board.show("");
}

void connection_core::unshow() noexcept {
    if (!shown_) return;
    shown_ = false;
    board_->show("");
}

// Every statement mid-step, joined by "; " (a query whose rows are being read, and another
// statement run meanwhile). Runs on the connection's thread, inside sqlite3_step() or the busy
// handler, where walking the statement list is safe.
void connection_core::show_running() noexcept {
    std::string running;
    for (sqlite3_stmt* stmt = sqlite3_next_stmt(db_, nullptr); stmt != nullptr;
         stmt = sqlite3_next_stmt(db_, stmt)) {
        const char* sql = sqlite3_stmt_busy(stmt) != 0 ? sqlite3_sql(stmt) : nullptr;
        if (sql != nullptr) running.append(running.empty() ? "" : "; ").append(sql);
    }
    try {
        board_->show(running);
        shown_ = true;
    } catch (...) {
        // Deliberately ignored: the board is a diagnostic; the statement goes on.
    }
}

// Shows what runs, and takes the board's interrupt order, which ends with the statements shown.
bool connection_core::obeys_board() noexcept {
    if (!shown_) show_running();
    if (!board_->interrupting()) return false;
    unshow();
    cause_ = stop_cause::closed;
    return true;
}

void connection_core::unshow_if_done() noexcept {
    for (sqlite3_stmt* stmt = sqlite3_next_stmt(db_, nullptr); stmt != nullptr;
         stmt = sqlite3_next_stmt(db_, stmt))
        if (sqlite3_stmt_busy(stmt) != 0) return;
    unshow();
}

// A rollback still runs after the deadline: it gives back what the call held.
void connection_core::check_limit(std::string_view sql) {
    if (!limit_.passed() || begins_with(sql, "ROLLBACK")) return;
    cause_ = limit_.stop_requested() ? stop_cause::stop : stop_cause::deadline;
    throw_interrupted(sql);
}

void connection_core::at_gate(std::string_view sql) {
    if (gate_->capped() && sqlite3_txn_state(db_, "main") == SQLITE_TXN_READ && !ends_transaction(sql)) {
        cause_ = stop_cause::cap;
        throw_interrupted(sql);
    }
    if (gate_->held()) wait_at_gate();
}

void connection_core::throw_interrupted(std::string_view sql) {
    const stop_cause cause = std::exchange(cause_, stop_cause::none);
    const std::string where = sql.empty() ? std::string() : " [sql: " + std::string(sql) + "]";
    if (cause == stop_cause::stop)
        throw cancelled_error("the call was cancelled (its stop_token was asked to stop)" + where);
    if (cause == stop_cause::closed)
        throw pool_closed_error("the pool closed: close() waited its timeout for this lease, then "
                                "interrupted the statement" +
                                where);
    if (cause == stop_cause::cap)
        throw timeout_error(
            "read transaction ended: checkpoints of the WAL have failed for read_transaction_limit "
            "while read transactions stayed open; keep read transactions shorter" +
                where,
            std::chrono::nanoseconds::zero());
    throw timeout_error("the call's deadline passed" + where, std::chrono::nanoseconds::zero());
}

// SQLite's own busy handler sleeps 1, 2, 5, 10, ... 100 ms between tries until busy_timeout
// (sqliteDefaultBusyCallback in main.c); this one does the same, and gives up at the deadline too.
int connection_core::on_busy(void* self, int count) noexcept {
    static constexpr std::array<int, 12> delays_ms{1, 2, 5, 10, 15, 20, 25, 25, 25, 50, 50, 100};
    auto& core = *static_cast<connection_core*>(self);
    const auto now = steady::now();
    if (count == 0) core.busy_since_ = now;
    if (core.limit_.passed(now)) {
        core.cause_ = core.limit_.stop_requested() ? stop_cause::stop : stop_cause::deadline;
        return 0;
    }
    if (core.board_ != nullptr && core.obeys_board()) return 0;
    const auto until = std::min(core.busy_since_ + core.busy_timeout_, core.limit_.at());
    if (now >= until) return 0; // busy_timeout, not the deadline: an ordinary SQLITE_BUSY
    const auto pause =
        std::chrono::milliseconds(delays_ms[std::min<std::size_t>(static_cast<std::size_t>(count), 11)]);
    std::this_thread::sleep_for(std::min<steady::duration>(pause, until - now));
    return 1;
}

// Runs on the connection's own thread inside sqlite3_step(); non-zero interrupts the statement
// (SQLITE_INTERRUPT). Only a read transaction is capped: a writer holds no snapshot back.
int connection_core::on_progress(void* self) noexcept {
    auto& core = *static_cast<connection_core*>(self);
    if (core.board_ != nullptr && core.obeys_board()) return 1;
    if (core.limited_ && core.limit_.passed()) {
        core.cause_ = core.limit_.stop_requested() ? stop_cause::stop : stop_cause::deadline;
        return 1;
    }
    if (core.gate_ != nullptr && core.gate_->capped() &&
        sqlite3_txn_state(core.db_, "main") == SQLITE_TXN_READ) {
        core.cause_ = stop_cause::cap;
        return 1;
    }
    return 0;
}

} // namespace sqlpool::detail
