// file_watch: notices that a connection's database file was deleted or replaced under it, before a
// commit into the old file is acknowledged.
module;
#include "../detail/gmf.hpp"
export module sqlpool:file_watch;
import :errors;

namespace sqlpool::detail {

// A connection keeps writing into the file it opened even after that file was unlinked or renamed
// away, and a connection newly opened on the path never sees those writes
// (https://sqlite.org/howtocorrupt.html#unlinking_or_renaming_a_database_file_while_in_use).
// file_watch asks the VFS (SQLITE_FCNTL_HAS_MOVED, https://sqlite.org/c3ref/c_fcntl_begin_atomic_write.html)
// at two points of every write transaction: in the commit hook, which turns the commit into a
// rollback when the file has moved, and after the statement that committed, for a move that raced
// the commit itself. Read-only transactions never call the commit hook, so they cost nothing.
class file_watch {
public:
    // Watches the main database of `db`; in-memory and temporary databases have no file to move.
    void attach(sqlite3* db) noexcept {
        const char* name = sqlite3_db_filename(db, "main");
        if (name == nullptr || *name == '\0') return;
        db_ = db;
        struct stat st{};
        if (::stat(name, &st) == 0) {
            device_ = static_cast<std::uint64_t>(st.st_dev);
            inode_ = static_cast<std::uint64_t>(st.st_ino);
        }
        sqlite3_commit_hook(db, &file_watch::on_commit, this);
    }

    // True when the file at the connection's path is no longer the file it opened (deleted, or
    // replaced by a rename). A VFS without SQLITE_FCNTL_HAS_MOVED is asked with stat() instead.
    [[nodiscard]] bool moved() const noexcept {
        if (db_ == nullptr) return false;
        int has_moved = 0;
        if (sqlite3_file_control(db_, "main", SQLITE_FCNTL_HAS_MOVED, &has_moved) == SQLITE_OK)
            return has_moved != 0;
        struct stat st{};
        return inode_ != 0 && (::stat(sqlite3_db_filename(db_, "main"), &st) != 0 ||
                               static_cast<std::uint64_t>(st.st_dev) != device_ ||
                               static_cast<std::uint64_t>(st.st_ino) != inode_);
    }

    // The device and inode of the file it opened (0 for in-memory and temporary databases).
    [[nodiscard]] std::uint64_t device() const noexcept { return device_; }
    [[nodiscard]] std::uint64_t inode() const noexcept { return inode_; }

    // A write transaction committed since the last verify_commit().
    [[nodiscard]] bool commit_pending() const noexcept { return committed_; }

    // After the statement that committed: throws database_moved_error when the file moved while
    // the commit ran, so that a commit into the old file is never acknowledged.
    void verify_commit(std::string_view sql) {
        committed_ = false;
        if (moved()) throw_moved(sql, true);
    }

    // True, once, when the commit hook refused a commit (SQLITE_CONSTRAINT_COMMITHOOK) because
    // the file had moved.
    [[nodiscard]] bool take_refusal() noexcept { return std::exchange(refused_, false); }

    // `into_old_file`: the call may have written into the old file (a commit, or an I/O error
    // mid-commit) rather than nothing at all.
    [[noreturn]] void throw_moved(std::string_view sql, bool into_old_file) const {
        const char* name = db_ != nullptr ? sqlite3_db_filename(db_, "main") : nullptr;
        std::string text =
            "the database file '" + std::string(name != nullptr ? name : "") +
            "' was deleted or replaced while this connection had it open; " +
            (into_old_file ? "what this call wrote went into the old file, not the one at the path"
                           : "nothing was written") +
            ", and the connection is retired";
        throw database_moved_error(std::move(text), std::string(sql));
    }

private:
    static int on_commit(void* self) noexcept {
        auto* watch = static_cast<file_watch*>(self);
        if (watch->moved()) {
            watch->refused_ = true;
            return 1; // the commit becomes a rollback (https://sqlite.org/c3ref/commit_hook.html)
        }
        watch->committed_ = true;
        return 0;
    }

    sqlite3* db_ = nullptr;
    std::uint64_t device_ = 0;
    std::uint64_t inode_ = 0;
    bool committed_ = false;
    bool refused_ = false;
};

} // namespace sqlpool::detail
