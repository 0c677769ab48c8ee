// checkpointer: a pool's WAL checkpoint manager. Checkpoints move off the write path onto a
// thread of their own: PASSIVE when the WAL passes a soft size, and past a hard size a TRUNCATE
// behind a reader gap (:reader_gate), with writers held at their commit until it is done, so that
// readers that never pause cannot starve the WAL into growing without bound
// (https://sqlite.org/wal.html#avoiding_excessively_large_wal_files).
module;
#include "../detail/gmf.hpp"
export module sqlpool:checkpointer;
import :names;
import :stats;
import :events;
import :open_options;
import :reader_gate;
import :fork_guard;

export namespace sqlpool {

// Who checkpoints a WAL database (pool_config::checkpoints):
//   managed   the pool: its connections' automatic checkpoints are off, a thread of the pool
//             checkpoints (see pool_config::wal_soft_limit and wal_hard_limit)
//   sqlite    SQLite's own automatic checkpoints on the committing connection (wal_autocheckpoint)
//   external  nobody in the pool: for a replication or backup tool that must own checkpoints
enum class checkpoint_mode { managed, sqlite, external };

} // namespace sqlpool

namespace sqlpool::detail {

inline constexpr enum_names<checkpoint_mode, 3> checkpoint_mode_names{
    {{checkpoint_mode::managed, "managed"},
     {checkpoint_mode::sqlite, "sqlite"},
     {checkpoint_mode::external, "external"}}};
static_assert(in_enum_order(checkpoint_mode_names));

struct checkpoint_limits {
    std::uint64_t soft = 0; // bytes of WAL: PASSIVE checkpoints from here
    std::uint64_t hard = 0; // bytes of WAL: the cap (a reader gap and a TRUNCATE from 3/4 of it)
    std::chrono::milliseconds reader_gap{};
    std::chrono::milliseconds read_limit{}; // starving this long caps read transactions (0: never)
    std::chrono::milliseconds interval{};   // a round at least this often
};

// Owns the checkpoint thread and its own connection (opened on the first round, never creating
// the file). Pooled connections report commits through watch()'s hook.
class checkpointer {
public:
    checkpointer(open_options options, checkpoint_limits limits, std::shared_ptr<reader_gate> gate,
                 pool_listener* listener);
    checkpointer(const checkpointer&) = delete;
    checkpointer& operator=(const checkpointer&) = delete;
    checkpointer(checkpointer&&) = delete;
    checkpointer& operator=(checkpointer&&) = delete;
    ~checkpointer() { stop(); }

    // Installs the commit hook on a pooled connection; it replaces SQLite's automatic checkpoint
    // (sqlite3_wal_hook, https://sqlite.org/c3ref/wal_hook.html).
    void watch(sqlite3* db) noexcept;
    // Ends the thread (and the holds on writers); idempotent. In a forked child, where the thread
    // does not exist, it is left behind instead.
    void stop() noexcept;
    [[nodiscard]] wal_counts counts() const noexcept;
    [[nodiscard]] std::uint64_t listener_errors() const noexcept {
        return listener_errors_.load(std::memory_order_relaxed);
    }

private:
    static int on_commit(void* self, sqlite3* db, const char* schema, int frames) noexcept;
    void nudge() noexcept;
    void hold_writer() noexcept;
    void run() noexcept;
    bool open_connection() noexcept;
    void close_connection() noexcept;
    void round() noexcept;
    void escalate(std::uint64_t wal_bytes) noexcept;
    void set_frame_size(std::uint64_t page_size) noexcept;

    open_options options_;
    checkpoint_limits limits_;
    std::shared_ptr<reader_gate> gate_;
    pool_listener* listener_;
    sqlite3* db_ = nullptr; // the checkpoint thread's own connection
    std::string wal_path_;
    std::pair<dev_t, ino_t> file_; // the database file db_ has open
    std::atomic<std::uint64_t> soft_frames_;
    std::atomic<std::uint64_t> hard_frames_;
    // The WAL's frames at the last round, and from how many frames a commit nudges the next one:
    // a PASSIVE round per half a soft size of new frames, not one per commit.
    std::atomic<std::uint64_t> round_frames_{0};
    std::atomic<std::uint64_t> next_frames_{0};
    // The last escalation failed: writers are not held (their wait would not help), and the next
    // escalation waits for the next interval, so that readers are held only a reader_gap per interval.
    std::atomic<bool> starving_{false};
    std::chrono::steady_clock::time_point next_escalation_;               // the thread's own
    std::optional<std::chrono::steady_clock::time_point> starving_since_; // the thread's own
    void track_starvation(bool starving) noexcept;
    mutable std::mutex mutex_;
    std::condition_variable wakeup_;     // the thread: a nudge or stop
    std::condition_variable round_done_; // writers held at their commit
    bool nudged_ = false;                // under mutex_
    bool stopping_ = false;              // under mutex_
    std::uint64_t rounds_ = 0;           // under mutex_
    std::atomic<bool> pending_{false};   // a nudge not yet taken up
    wal_counts counts_;                  // under mutex_
    std::atomic<std::uint64_t> listener_errors_{0};
    std::uint64_t born_ = fork_generation_now(); // the process whose thread runs the rounds
    std::thread thread_;                         // last: starts after everything it uses exists
};

} // namespace sqlpool::detail

export namespace sqlpool {

[[nodiscard]] constexpr const char* to_string(checkpoint_mode mode) noexcept {
    return detail::name_of(detail::checkpoint_mode_names, mode);
}

} // namespace sqlpool
