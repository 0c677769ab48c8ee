// file_generation: where a pool's connections connect (resolve_database) and which database file they
// have open, so that connections to a file deleted or replaced under the pool never meet
// connections to the file now at the path.
module;
#include "detail/gmf.hpp"
export module sqlpool:file_generation;
import :errors;
import :sqlite;

namespace sqlpool::detail {

inline std::atomic<std::uint64_t> memory_database_counter{0};

// Where the pool's connections connect. ":memory:" becomes one named in-memory database that all
// of the pool's connections share (SQLite's memdb VFS, https://sqlite.org/inmemorydb.html); an
// in-memory URI that would give each connection a private database is refused.
inline std::string resolve_database(const std::string& database) {
    if (database == ":memory:")
        return "file:/sqlpool-memory-" + std::to_string(::getpid()) + "-" +
               std::to_string(memory_database_counter.fetch_add(1)) + "?vfs=memdb";
    if (!is_memory_path(database)) return database;
    // memdb databases whose name starts with '/' are shared within the process; others, and
    // ":memory:" itself, are private to one connection.
    const bool shared_memdb = database.starts_with("file:/") && uri_parameter(database, "vfs") == "memdb";
    const bool shared_cache = uri_parameter(database, "mode") == "memory" &&
                              uri_parameter(database, "cache") == "shared" &&
                              !database.starts_with("file::memory:");
    if (shared_memdb || shared_cache) return database;
    throw config_error({"database '" + database +
                        "' would give every pooled connection its own private in-memory database; use "
                        "\":memory:\" (one database shared by the pool) or a named URI such as "
                        "\"file:/name?vfs=memdb\""});
}

// What every connection of one file generation holds: ended once the file moved.
class generation_token {
public:
    [[nodiscard]] inline bool ended() const noexcept { return ended_.load(std::memory_order_acquire); }
    void end() const noexcept { ended_.store(true, std::memory_order_release); }

private:
    mutable std::atomic<bool> ended_{false};
};

// The identity of the file at a path: device and inode, or {0, 0} when there is none.
struct file_key {
    std::uint64_t device = 0;
    std::uint64_t inode = 0;
    friend bool operator==(const file_key&, const file_key&) = default;
};

// Every pooled connection holds its generation's token; a generation ends when the file at the
// path turns out to be another one. Connections of an ended generation retire, and no connection
// opens on the new file until the last of them has closed: the two files share the names of their
// journals (-journal, -wal, -shm), so a connection to the new file could otherwise take the old
// file's live rollback journal for a hot one and play it back into the new file, or truncate the
// -shm file the old connections have mapped
// (https://sqlite.org/howtocorrupt.html#unlinking_or_renaming_a_database_file_while_in_use).
// The pool calls every member under its lock, except key_at_path().
class file_generation {
public:
    using token = std::shared_ptr<const generation_token>;

    [[nodiscard]] const token& current() const noexcept { return current_; }
    // Lock-free: a returning connection asks this without the pool's lock.
    [[nodiscard]] inline static bool is_current(const token& t) noexcept { return !t->ended(); }

    // The file at the path now (a stat, before a connection opens; nothing for in-memory ones).
    [[nodiscard]] file_key key_at_path() const noexcept {
        struct stat st{};
        if (path_.empty() || ::stat(path_.c_str(), &st) != 0) return {};
        return {static_cast<std::uint64_t>(st.st_dev), static_cast<std::uint64_t>(st.st_ino)};
    }

    // Before a connection opens: true when the file at the path is not the one the current
    // generation has open (the caller then ends the generation).
    [[nodiscard]] bool changed(const file_key& now) const noexcept {
        return !path_.empty() && known_ && now != key_;
    }
    // After a connection opened: the file it opened (its full name as SQLite resolved it, "" for
    // in-memory databases) is the current generation's.
    void opened(std::string_view filename, const file_key& key) {
        if (filename.empty() || key == file_key{}) return;
        if (path_ != filename) path_ = filename;
        key_ = key;
        known_ = true;
    }

    // The file moved: connections holding the current token are now of an ended generation.
    void end() {
        std::erase_if(ended_, [](const std::weak_ptr<const generation_token>& e) { return e.expired(); });
        current_->end();
        ended_.emplace_back(current_);
        current_ = std::make_shared<const generation_token>();
        known_ = false;
    }
    // True when every connection of ended generations has closed.
    [[nodiscard]] bool ended_closed() const noexcept {
        return std::ranges::all_of(
            ended_, [](const std::weak_ptr<const generation_token>& e) { return e.expired(); });
    }

private:
    std::string path_; // as the first connection resolved it; empty until then, and in memory
    token current_ = std::make_shared<const generation_token>();
    std::vector<std::weak_ptr<const generation_token>>
        ended_; // generations whose connections may still be open
    file_key key_;
    bool known_ = false;
};

} // namespace sqlpool::detail
