// session_board: what a pool and one of its sessions share across threads — the statements the
// session has been running for a while (for connections()), and the pool's order to interrupt
// them (when close(timeout) gave up waiting).
module;
#include "detail/gmf.hpp"
export module sqlpool:session_board;

export namespace sqlpool {

// One per slot of a pool, living as long as the pool: a session opened into the slot is attached
// to it (session::attach) and writes to it from its own thread; anyone reads it.
class session_board {
public:
    session_board() = default;
    session_board(const session_board&) = delete;
    session_board& operator=(const session_board&) = delete;
    session_board(session_board&&) = delete;
    session_board& operator=(session_board&&) = delete;
    ~session_board() = default;

    // The session's thread: the SQL it is running now, or "" when it ended (which also withdraws
    // an interrupt order). Sessions show a statement only once it has run for a while, so that
    // short ones cost nothing.
    void show(std::string_view sql) {
        const std::lock_guard lock(mutex_);
        sql_.assign(sql);
        if (sql.empty()) interrupt_.store(false, std::memory_order_relaxed);
    }
    [[nodiscard]] std::string shown() const {
        const std::lock_guard lock(mutex_);
        return sql_;
    }

    // Any thread: orders the session to interrupt the statements it shows now; false when it
    // shows none (nothing has run for a while). The order ends with those statements.
    bool interrupt() {
        const std::lock_guard lock(mutex_);
        if (sql_.empty()) return false;
        interrupt_.store(true, std::memory_order_relaxed);
        return true;
    }
    // The session's thread, while a statement runs: whether to interrupt it.
    [[nodiscard]] bool interrupting() const noexcept { return interrupt_.load(std::memory_order_relaxed); }

private:
    mutable std::mutex mutex_;
    std::string sql_;
    std::atomic<bool> interrupt_{false};
};

} // namespace sqlpool
