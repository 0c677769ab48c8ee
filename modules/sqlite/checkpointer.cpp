// checkpointer: the checkpoint thread, its rounds, and the commit hook that wakes it.
module;
#include "../detail/gmf.hpp"
module sqlpool;

namespace sqlpool::detail {

namespace {
// A WAL frame is a page plus its 24-byte header (https://sqlite.org/fileformat.html#wal_file_format).
constexpr std::uint64_t wal_frame_header = 24;
constexpr std::uint64_t default_page_size = 4096;
} // namespace

checkpointer::checkpointer(open_options options, checkpoint_limits limits, std::shared_ptr<reader_gate> gate,
                           pool_listener* listener)
    : options_(std::move(options)), limits_(limits), gate_(std::move(gate)), listener_(listener),
      thread_([this] { run(); }) {
    set_frame_size(default_page_size);
}

void checkpointer::set_frame_size(std::uint64_t page_size) noexcept {
    const std::uint64_t frame = page_size + wal_frame_header;
    soft_frames_.store(std::max<std::uint64_t>(1, limits_.soft / frame), std::memory_order_relaxed);
    // From 3/4 of the cap, so that the commits under way when it is reached stay under it.
    hard_frames_.store(std::max<std::uint64_t>(1, limits_.hard / 4 * 3 / frame), std::memory_order_relaxed);
}

void checkpointer::watch(sqlite3* db) noexcept {
    sqlite3_wal_hook(db, &checkpointer::on_commit, this);
}

// Runs on the committing thread after each commit that wrote to the WAL, with no lock held
// (SQLite calls it once the transaction is over): below the soft size it costs one comparison.
int checkpointer::on_commit(void* self, sqlite3* /*db*/, const char* /*schema*/, int frames) noexcept {
    auto& me = *static_cast<checkpointer*>(self);
    const auto n = static_cast<std::uint64_t>(std::max(frames, 0));
    if (n < me.soft_frames_.load(std::memory_order_relaxed)) [[likely]]
        return SQLITE_OK;
    if (n >= me.hard_frames_.load(std::memory_order_relaxed) &&
        !me.starving_.load(std::memory_order_relaxed)) {
        me.hold_writer();
    } else if (n < me.round_frames_.load(std::memory_order_relaxed) || // the WAL restarted since
               n >= me.next_frames_.load(std::memory_order_relaxed)) {
        me.nudge();
    }
    return SQLITE_OK; // the commit happened whatever a hook returns
}

void checkpointer::nudge() noexcept {
    if (pending_.load(std::memory_order_relaxed) || pending_.exchange(true)) return;
    {
        const std::lock_guard lock(mutex_);
        nudged_ = true;
    }
    wakeup_.notify_one();
}

// Past the hard size a writer waits (at most about two reader gaps) for the round it asked for,
// so that the WAL passes wal_hard_limit by no more than the commits already under way.
void checkpointer::hold_writer() noexcept {
    if (forked_since(born_)) return; // nobody would end the wait
    std::unique_lock lock(mutex_);
    if (stopping_) return;
    const std::uint64_t asked_at = rounds_;
    nudged_ = true;
    pending_.store(true);
    wakeup_.notify_one();
    round_done_.wait_for(lock, 2 * limits_.reader_gap + limits_.interval, [&] {
        return stopping_ || rounds_ > asked_at + 1 || (rounds_ > asked_at && !nudged_);
    });
}

void checkpointer::stop() noexcept {
    if (forked_since(born_)) {
        if (thread_.joinable()) leave_behind(std::move(thread_));
        return;
    }
    {
        const std::lock_guard lock(mutex_);
        if (stopping_ && !thread_.joinable()) return;
        stopping_ = true;
    }
    wakeup_.notify_all();
    round_done_.notify_all();
    if (thread_.joinable()) thread_.join();
    gate_->cap(false); // nobody would lift it
}

wal_counts checkpointer::counts() const noexcept {
    const std::lock_guard lock(mutex_);
    return counts_;
}

void checkpointer::run() noexcept {
    std::unique_lock lock(mutex_);
    while (!stopping_) {
        wakeup_.wait_for(lock, limits_.interval, [this] { return stopping_ || nudged_; });
        if (stopping_) break;
        nudged_ = false;
        pending_.store(false);
        lock.unlock();
        round();
        lock.lock();
        ++rounds_;
        round_done_.notify_all();
    }
    lock.unlock();
    close_connection();
}

void checkpointer::close_connection() noexcept {
    if (db_ != nullptr) sqlite3_close_v2(db_);
    db_ = nullptr;
}

namespace {
// The first column of the first row of `sql`, as text ("" on any failure).
std::string single_value(sqlite3* db, const char* sql) noexcept {
    sqlite3_stmt* stmt = nullptr;
    std::string value;
    if (sqlite3_prepare_v2(db, sql, -1, &stmt, nullptr) == SQLITE_OK && sqlite3_step(stmt) == SQLITE_ROW) {
        const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
        if (text != nullptr) value = text;
    }
    sqlite3_finalize(stmt);
    return value;
}
} // namespace

// Opens the thread's connection once the database exists; its busy handler bounds how long an
// escalated checkpoint waits for readers and writers.
bool checkpointer::open_connection() noexcept {
    // A URI names its file in a form stat() does not read: SQLite's own open tells whether it exists.
    const bool uri = options_.path.starts_with("file:");
    struct stat st{};
    const bool exists = uri || ::stat(options_.path.c_str(), &st) == 0;
    if (db_ != nullptr && !uri && (!exists || std::pair{st.st_dev, st.st_ino} != file_))
        close_connection(); // the file was deleted or replaced: checkpoint the one at the path
    if (db_ != nullptr) return true;
    if (!exists) return false;
    file_ = {st.st_dev, st.st_ino};
    sqlite3* db = nullptr;
    const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_URI;
    if (sqlite3_open_v2(options_.path.c_str(), &db, flags, nullptr) != SQLITE_OK) {
        sqlite3_close_v2(db);
        return false;
    }
    sqlite3_busy_timeout(db, static_cast<int>(limits_.reader_gap.count()));
    // Reading the journal mode also opens the WAL, without which a checkpoint reports "not WAL".
    if (single_value(db, "PRAGMA journal_mode") != "wal") {
        sqlite3_close_v2(db);
        return false;
    }
    std::uint64_t page_size = 0;
    const std::string page_text = single_value(db, "PRAGMA page_size");
    std::from_chars(page_text.data(), page_text.data() + page_text.size(), page_size);
    set_frame_size(page_size != 0 ? page_size : default_page_size);
    const char* wal = sqlite3_filename_wal(sqlite3_db_filename(db, "main"));
    wal_path_ = wal != nullptr ? wal : "";
    db_ = db;
    return true;
}

namespace {
std::uint64_t file_size(const std::string& path) noexcept {
    struct stat st{};
    return !path.empty() && ::stat(path.c_str(), &st) == 0 ? static_cast<std::uint64_t>(st.st_size) : 0;
}
} // namespace

void checkpointer::round() noexcept {
    if (!open_connection()) return;
    int log = 0;
    int done = 0;
    const int rc = sqlite3_wal_checkpoint_v2(db_, "main", SQLITE_CHECKPOINT_PASSIVE, &log, &done);
    if (log < 0) return; // not a WAL database (-1, -1)
    round_frames_.store(static_cast<std::uint64_t>(log), std::memory_order_relaxed);
    next_frames_.store(static_cast<std::uint64_t>(log) + (soft_frames_.load(std::memory_order_relaxed) / 2),
                       std::memory_order_relaxed);
    const std::uint64_t frame = [&] {
        const std::lock_guard lock(mutex_);
        if (rc == SQLITE_OK) ++counts_.passive;
        counts_.frames_behind = static_cast<std::uint64_t>(std::max(log - done, 0));
        counts_.bytes = file_size(wal_path_);
        return counts_.bytes;
    }();
    const auto now = std::chrono::steady_clock::now();
    if (static_cast<std::uint64_t>(log) >= hard_frames_.load(std::memory_order_relaxed) &&
        now >= next_escalation_)
        escalate(frame);
}

// Holds new transactions (of every pool on the file) while a TRUNCATE checkpoint waits, at most
// reader_gap, for the readers in the WAL to finish, then resets it to zero bytes.
void checkpointer::escalate(std::uint64_t wal_bytes) noexcept {
    try {
        gate_->hold(limits_.reader_gap);
    } catch (...) {
        return; // no mutex: the next round tries again
    }
    int log = 0;
    int done = 0;
    const int rc = sqlite3_wal_checkpoint_v2(db_, "main", SQLITE_CHECKPOINT_TRUNCATE, &log, &done);
    gate_->release();
    const std::uint64_t behind = static_cast<std::uint64_t>(std::max(log - done, 0));
    {
        const std::lock_guard lock(mutex_);
        ++counts_.reader_gaps;
        ++(rc == SQLITE_OK ? counts_.truncate : counts_.starved);
        counts_.frames_behind = rc == SQLITE_OK ? 0 : behind;
        counts_.bytes = file_size(wal_path_);
    }
    starving_.store(rc != SQLITE_OK, std::memory_order_relaxed);
    track_starvation(rc != SQLITE_OK);
    if (rc == SQLITE_OK) return;
    next_escalation_ = std::chrono::steady_clock::now() + limits_.interval;
    notify(listener_, listener_errors_,
           [&](pool_listener& listener) { listener.on_wal_starved(wal_bytes, behind); });
}

// After read_limit of failed escalations the file's read transactions are capped (see
// pool_config::read_transaction_limit); a reset WAL lifts the cap.
void checkpointer::track_starvation(bool starving) noexcept {
    if (!starving) {
        starving_since_.reset();
        gate_->cap(false);
        return;
    }
    const auto now = std::chrono::steady_clock::now();
    if (!starving_since_) starving_since_ = now;
    if (limits_.read_limit.count() == 0 || now - *starving_since_ < limits_.read_limit || gate_->capped())
        return;
    gate_->cap(true);
    const std::lock_guard lock(mutex_);
    ++counts_.read_caps;
}

} // namespace sqlpool::detail
