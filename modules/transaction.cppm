// transaction and savepoint: RAII guards over SQLite's BEGIN / COMMIT / ROLLBACK and
// SAVEPOINT / RELEASE / ROLLBACK TO (https://sqlite.org/lang_savepoint.html).
module;
#include "detail/gmf.hpp"
export module sqlpool:transaction;
import :errors;
import :sqlite;
import :events;
import :config;
import :deadline;

namespace sqlpool::detail {

// Shared by a transaction and its savepoints, so that either may be moved or outlive the other
// without dangling: a savepoint of a finished transaction does nothing.
struct transaction_state {
    connection* conn = nullptr;
    bool active = false;
    std::size_t depth = 0;       // savepoints open
    std::uint64_t next_name = 0; // savepoint names are generated, never taken from users
};

inline const char* begin_statement(isolation_level level) noexcept {
    switch (level) {
    case isolation_level::deferred:
        return "BEGIN DEFERRED";
    case isolation_level::immediate:
        return "BEGIN IMMEDIATE";
    case isolation_level::exclusive:
        return "BEGIN EXCLUSIVE";
    }
    return "BEGIN";
}

} // namespace sqlpool::detail

export namespace sqlpool {

// A savepoint inside a transaction. release() keeps its changes, rollback() undoes them (ROLLBACK
// TO, then RELEASE); the destructor rolls back one that is still open. Only the innermost open
// savepoint may end.
class savepoint {
public:
    savepoint(const savepoint&) = delete;
    savepoint& operator=(const savepoint&) = delete;
    savepoint(savepoint&& other) noexcept
        : state_(std::move(other.state_)), depth_(other.depth_), name_(std::move(other.name_)),
          open_(std::exchange(other.open_, false)) {}
    savepoint& operator=(savepoint&&) = delete;
    ~savepoint() {
        if (!open_ || !state_->active || state_->depth != depth_) return;
        try {
            end("ROLLBACK TO " + name_ + "; RELEASE " + name_);
        } catch (...) {
            // Deliberately ignored: a failed rollback here leaves the transaction to its own guard,
            // which rolls back.
        }
    }

    void release() {
        check_innermost("release");
        end("RELEASE " + name_);
    }
    void rollback() {
        check_innermost("roll back");
        end("ROLLBACK TO " + name_ + "; RELEASE " + name_);
    }
    [[nodiscard]] bool open() const noexcept { return open_; }
    [[nodiscard]] const std::string& name() const noexcept { return name_; }

private:
    friend class transaction;
    explicit savepoint(std::shared_ptr<detail::transaction_state> state)
        : state_(std::move(state)), depth_(state_->depth + 1),
          name_("sqlpool_sp_" + std::to_string(++state_->next_name)), open_(true) {
        state_->conn->exec("SAVEPOINT " + name_); // throws before the savepoint exists: no object
        state_->depth = depth_;
    }

    void check_innermost(std::string_view action) const {
        if (!open_)
            throw transaction_error("cannot " + std::string(action) +
                                    " savepoint: it already ended or was moved from");
        if (!state_->active)
            throw transaction_error("cannot " + std::string(action) + " savepoint " + name_ +
                                    ": its transaction has ended");
        if (state_->depth != depth_)
            throw transaction_error("cannot " + std::string(action) + " savepoint " + name_ + " while " +
                                    std::to_string(state_->depth - depth_) +
                                    " savepoint(s) inside it are open");
    }
    void end(const std::string& sql) {
        open_ = false;
        state_->depth = depth_ - 1;
        state_->conn->exec(sql);
    }

    std::shared_ptr<detail::transaction_state> state_;
    std::size_t depth_ = 0;
    std::string name_;
    bool open_ = false;
};

// A transaction on one connection: commit() or rollback() end it; the destructor rolls back one
// that is still open, and never throws. Move-only.
class transaction {
public:
    transaction(connection& conn, isolation_level level) : level_(level) {
        if (conn.in_transaction())
            throw transaction_error("cannot begin a transaction: the connection is already inside one");
        conn.exec(detail::begin_statement(level));
        state_ = std::make_shared<detail::transaction_state>();
        state_->conn = &conn;
        state_->active = true;
    }
    transaction(const transaction&) = delete;
    transaction& operator=(const transaction&) = delete;
    transaction(transaction&& other) noexcept : state_(std::move(other.state_)), level_(other.level_) {}
    transaction& operator=(transaction&& other) noexcept {
        if (this != &other) {
            abandon();
            state_ = std::move(other.state_);
            level_ = other.level_;
        }
        return *this;
    }
    ~transaction() { abandon(); }

    void commit() {
        check_open("commit");
        if (state_->depth != 0)
            throw transaction_error("cannot commit while " + std::to_string(state_->depth) +
                                    " savepoint(s) are open; release or roll them back first");
        // If COMMIT fails (SQLITE_BUSY while readers finish, say), the transaction stays open and
        // may be committed again or rolled back (https://sqlite.org/lang_transaction.html).
        state_->conn->exec("COMMIT");
        state_->active = false;
    }

    void rollback() {
        check_open("roll back");
        state_->active = false;
        state_->depth = 0;
        if (state_->conn->in_transaction()) state_->conn->exec("ROLLBACK");
    }

    [[nodiscard]] sqlpool::savepoint savepoint() {
        check_open("open a savepoint in");
        return sqlpool::savepoint(state_);
    }

    [[nodiscard]] bool active() const noexcept { return state_ && state_->active; }
    [[nodiscard]] isolation_level level() const noexcept { return level_; }
    [[nodiscard]] std::size_t savepoint_depth() const noexcept { return state_ ? state_->depth : 0; }

private:
    void check_open(std::string_view action) const {
        if (!state_) throw transaction_error("cannot " + std::string(action) + " a moved-from transaction");
        if (!state_->active)
            throw transaction_error("cannot " + std::string(action) + " a transaction that already ended");
    }
    void abandon() noexcept {
        if (!state_ || !state_->active) return;
        state_->active = false;
        try {
            if (state_->conn->in_transaction()) state_->conn->exec("ROLLBACK");
        } catch (...) {
            // Deliberately ignored: the pool's reset on return rolls back again, or retires the
            // connection.
        }
    }

    std::shared_ptr<detail::transaction_state> state_;
    isolation_level level_;
};

} // namespace sqlpool

namespace sqlpool {

transaction connection::begin() {
    return transaction(*this, default_isolation_);
}
transaction connection::begin(isolation_level level) {
    return transaction(*this, level);
}

} // namespace sqlpool

namespace sqlpool::detail {

// What the read()/write() runner counts; updated without the pool's lock.
struct transaction_counters {
    std::atomic<std::uint64_t> committed{0};
    std::atomic<std::uint64_t> rolled_back{0};
    std::atomic<std::uint64_t> retried{0};
    std::atomic<std::uint64_t> busy_seen{0};
    std::atomic<std::uint64_t> busy_surfaced{0};
};

// One attempt: fn in a transaction on a freshly acquired connection, committed.
template <class Acquire, class F>
auto run_once(Acquire& acquire, isolation_level level, transaction_counters& counts, F& fn)
    -> std::invoke_result_t<F&, connection&> {
    auto lease = acquire();
    transaction tx = lease->begin(level);
    try {
        if constexpr (std::is_void_v<std::invoke_result_t<F&, connection&>>) {
            fn(*lease);
            tx.commit();
            counts.committed.fetch_add(1, std::memory_order_relaxed);
        } else {
            auto result = fn(*lease);
            tx.commit();
            counts.committed.fetch_add(1, std::memory_order_relaxed);
            return result;
        }
    } catch (...) {
        counts.rolled_back.fetch_add(1, std::memory_order_relaxed);
        throw; // tx's destructor rolls back
    }
}

// The limits of one read()/write() call: its transaction_timeout (for retries after busy) and
// the caller's deadline, if any.
struct call_limits {
    std::chrono::steady_clock::time_point started;
    std::chrono::steady_clock::time_point retry_until; // the earlier of the two
    const deadline* limit = nullptr;                   // the caller's
};

// The call's deadline ended the retries: timeout_error (cancelled_error on a stop request) rather
// than the busy_error that came last.
[[noreturn]] inline void throw_past_deadline(const call_limits& call, std::uint64_t attempt,
                                             const busy_error& busy) {
    if (call.limit->stop_requested())
        throw cancelled_error("the call was cancelled (its stop_token was asked to stop) after " +
                              std::to_string(attempt) + " attempt(s): " + busy.sqlite_message());
    const auto spent = std::chrono::steady_clock::now() - call.started;
    throw timeout_error("the call's deadline passed after " + std::to_string(attempt) +
                            " attempt(s), the last one busy: " + busy.sqlite_message(),
                        std::chrono::duration_cast<std::chrono::nanoseconds>(spent));
}

// The pause before retrying after SQLITE_BUSY: jittered, doubling up to 50 ms. Throws the final
// busy_error, saying how often and how long it tried, when transaction_timeout would pass, and
// timeout_error (or cancelled_error) when the caller's deadline would.
inline void pause_after_busy(const busy_error& busy, std::uint64_t attempt, std::chrono::microseconds& pause,
                             const call_limits& call, listener_sink sink, transaction_counters& counts) {
    thread_local std::minstd_rand jitter{std::random_device{}()};
    counts.busy_seen.fetch_add(1, std::memory_order_relaxed);
    const auto now = std::chrono::steady_clock::now();
    if (call.limit->passed(now + pause)) {
        counts.busy_surfaced.fetch_add(1, std::memory_order_relaxed);
        throw_past_deadline(call, attempt, busy);
    }
    if (now + pause >= call.retry_until) {
        counts.busy_surfaced.fetch_add(1, std::memory_order_relaxed);
        const auto spent = std::chrono::duration_cast<std::chrono::milliseconds>(now - call.started);
        throw busy_error(busy.extended_code(),
                         "gave up after " + std::to_string(attempt) + " attempt(s) in " +
                             std::to_string(spent.count()) + "ms: " + busy.sqlite_message(),
                         busy.sql());
    }
    counts.retried.fetch_add(1, std::memory_order_relaxed);
    if (sink.listener != nullptr)
        notify(sink.listener, *sink.errors,
               [&](pool_listener& listener) { listener.on_busy_retry(attempt, busy); });
    std::uniform_int_distribution<std::int64_t> spread(pause.count() / 2, pause.count());
    std::this_thread::sleep_for(std::chrono::microseconds(spread(jitter)));
    pause = std::min<std::chrono::microseconds>(pause * 2, std::chrono::milliseconds(50));
}

// Runs fn(connection&) inside a transaction on a connection from `acquire`, and commits. On
// busy_error it rolls back, waits a jittered, growing pause and runs fn again, until `timeout`
// has passed; then the busy_error reaches the caller. On database_moved_error (the file was
// deleted or replaced: nothing of this attempt is in the file at the path) it runs fn again at
// once on another connection, which the pool opens on the file now at the path. Any other
// exception rolls back and propagates unchanged. fn may therefore run more than once. `limit`
// (the caller's deadline) bounds all of it: `acquire` passes it on to the connection it leases.
template <class Acquire, class F>
auto run_transaction(Acquire acquire, listener_sink sink, isolation_level level,
                     std::chrono::milliseconds timeout, const deadline& limit, transaction_counters& counts,
                     F& fn) -> std::invoke_result_t<F&, connection&> {
    const auto started = std::chrono::steady_clock::now();
    // Capped at pool_config::max_duration (validate() refuses longer), so that
    // milliseconds::max() means "no deadline" rather than overflow.
    const call_limits call{
        started, std::min(started + std::min(timeout, pool_config::max_duration), limit.at()), &limit};
    auto pause = std::chrono::microseconds(500);
    for (std::uint64_t attempt = 1;; ++attempt) {
        try {
            return run_once(acquire, level, counts, fn);
        } catch (const busy_error& busy) {
            pause_after_busy(busy, attempt, pause, call, sink, counts);
        } catch (const database_moved_error&) {
            if (std::chrono::steady_clock::now() >= call.retry_until) throw;
            counts.retried.fetch_add(1, std::memory_order_relaxed);
        }
    }
}

} // namespace sqlpool::detail
