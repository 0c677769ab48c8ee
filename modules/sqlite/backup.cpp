// backup: the copies behind backup_to(), vacuum_into() and restore_from(), on raw SQLite handles.
module;
#include "../detail/gmf.hpp"
module sqlpool;

namespace sqlpool::detail {

namespace {

namespace fs = std::filesystem;
using steady = std::chrono::steady_clock;

std::atomic<std::uint64_t> temp_counter{0};

// An sqlite3 handle of its own, closed on the way out.
class raw_db {
public:
    raw_db(const fs::path& path, int flags) {
        const int rc = sqlite3_open_v2(path.c_str(), &db_, flags | SQLITE_OPEN_EXRESCODE, nullptr);
        if (rc != SQLITE_OK) {
            // A failed open still returns a handle (https://sqlite.org/c3ref/open.html): close it.
            std::string message = "cannot open '" + path.string() +
                                  "': " + (db_ != nullptr ? sqlite3_errmsg(db_) : sqlite3_errstr(rc));
            (void)sqlite3_close_v2(db_);
            throw backup_error(message);
        }
    }
    raw_db(const raw_db&) = delete;
    raw_db& operator=(const raw_db&) = delete;
    raw_db(raw_db&&) = delete;
    raw_db& operator=(raw_db&&) = delete;
    ~raw_db() { (void)sqlite3_close_v2(db_); }
    [[nodiscard]] sqlite3* get() const noexcept { return db_; }

private:
    sqlite3* db_ = nullptr;
};

// "ok", or the first problem PRAGMA integrity_check names (a file that is no database included).
std::string integrity_of(sqlite3* db) {
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db, "PRAGMA integrity_check(1)", -1, &stmt, nullptr) != SQLITE_OK)
        return sqlite3_errmsg(db);
    std::string answer = sqlite3_errmsg(db);
    if (sqlite3_step(stmt) == SQLITE_ROW) {
        const unsigned char* text = sqlite3_column_text(stmt, 0);
        answer = text != nullptr ? reinterpret_cast<const char*>(text) : "";
    } else {
        answer = sqlite3_errmsg(db);
    }
    (void)sqlite3_finalize(stmt);
    return answer;
}

// A file next to the destination that the copy is written to; removed (with its journals) unless
// it took the destination's name.
class temp_copy {
public:
    explicit temp_copy(const fs::path& destination)
        : destination_(destination),
          path_(destination.parent_path() /
                ("." + destination.filename().string() + ".sqlpool-" + std::to_string(::getpid()) + "-" +
                 std::to_string(temp_counter.fetch_add(1)) + ".tmp")) {}
    temp_copy(const temp_copy&) = delete;
    temp_copy& operator=(const temp_copy&) = delete;
    temp_copy(temp_copy&&) = delete;
    temp_copy& operator=(temp_copy&&) = delete;
    ~temp_copy() {
        std::error_code ignored;
        for (const char* suffix : {"", "-journal", "-wal", "-shm"})
            fs::remove(path_.string() + suffix, ignored);
    }
    [[nodiscard]] const fs::path& path() const noexcept { return path_; }

    // Checks the copy, gives it the destination's name (atomically: a reader of the destination
    // sees the old file or the new one) and makes the rename durable.
    std::uintmax_t install(bool verify) const {
        if (verify) {
            const raw_db copy(path_, SQLITE_OPEN_READWRITE);
            if (const std::string answer = integrity_of(copy.get()); answer != "ok")
                throw backup_error("the copy for '" + destination_.string() +
                                   "' failed its integrity check (" + answer + "); it was not kept");
        }
        const std::uintmax_t bytes = fs::file_size(path_);
        fs::rename(path_, destination_);
        sync_directory(destination_.parent_path());
        return bytes;
    }

private:
    static void sync_directory(const fs::path& dir) noexcept {
        const int fd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0) return;
        (void)::fsync(fd);
        (void)::close(fd);
    }

    fs::path destination_;
    fs::path path_;
};

// The backup must not overwrite the database it copies, nor a directory.
void check_destination(connection& source, const fs::path& destination) {
    std::error_code error;
    if (fs::is_directory(destination, error))
        throw backup_error("backup destination '" + destination.string() + "' is a directory");
    const char* live = sqlite3_db_filename(upkeep_handle(source), "main");
    if (live != nullptr && *live != '\0' && fs::exists(destination, error) &&
        fs::equivalent(destination, live, error))
        throw backup_error("backup destination '" + destination.string() +
                           "' is the live database itself; choose another file");
}

// Owns an sqlite3_backup; finish() reports how it ended.
class backup_run {
public:
    backup_run(sqlite3* to, sqlite3* from) : to_(to), run_(sqlite3_backup_init(to, "main", from, "main")) {
        if (run_ == nullptr) throw backup_error(std::string("cannot start the copy: ") + sqlite3_errmsg(to));
    }
    backup_run(const backup_run&) = delete;
    backup_run& operator=(const backup_run&) = delete;
    backup_run(backup_run&&) = delete;
    backup_run& operator=(backup_run&&) = delete;
    ~backup_run() {
        if (run_ != nullptr) (void)sqlite3_backup_finish(run_);
    }

    int step(int pages) noexcept { return sqlite3_backup_step(run_, pages); }
    [[nodiscard]] backup_progress progress() const noexcept {
        const int total = sqlite3_backup_pagecount(run_);
        return {.pages_copied = total - sqlite3_backup_remaining(run_), .pages_total = total};
    }
    // Ends the run; throws unless the last step was SQLITE_DONE.
    void finish(int last, const std::string& what) {
        (void)sqlite3_backup_finish(std::exchange(run_, nullptr));
        if (last != SQLITE_DONE)
            throw backup_error(what + " stopped: " + sqlite3_errstr(last) + " (" + sqlite3_errmsg(to_) + ")");
    }

private:
    sqlite3* to_;
    sqlite3_backup* run_;
};

bool busy(int rc) noexcept {
    return (rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED;
}

// Copies `from` into `to` in steps of `pages` (-1: all at once), retrying a busy step until
// `deadline`.
backup_result copy_pages(sqlite3* to, sqlite3* from, int pages, const backup_options& options,
                         steady::time_point deadline) {
    backup_run run(to, from);
    backup_result result;
    int rc = SQLITE_OK;
    while (true) {
        rc = run.step(pages);
        ++result.steps;
        if (busy(rc) && steady::now() < deadline) {
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
            continue;
        }
        if (rc != SQLITE_OK && rc != SQLITE_DONE) break;
        const backup_progress progress = run.progress();
        result.pages = progress.pages_total;
        if (options.on_progress) options.on_progress(progress);
        if (rc == SQLITE_DONE) break;
        std::this_thread::sleep_for(options.pause);
    }
    run.finish(rc, "the copy");
    return result;
}

} // namespace

backup_result backup_connection(connection& source, const std::filesystem::path& destination,
                                const backup_options& options) {
    if (options.pages_per_step <= 0)
        throw backup_error("backup_options::pages_per_step must be positive, not " +
                           std::to_string(options.pages_per_step));
    const auto started = steady::now();
    check_destination(source, destination);
    // Outside WAL mode the read transaction holds writers off: copy all at once.
    const bool wal = source.query_value<std::string>("PRAGMA journal_mode") == "wal";
    auto snapshot = source.begin(isolation_level::deferred);
    // The read transaction starts with the first read: from here on every step copies this
    // snapshot, and commits of other connections cannot restart the copy, which they would
    // between two steps that each took a new one (https://sqlite.org/c3ref/backup_finish.html).
    (void)source.query_value<std::int64_t>("SELECT count(*) FROM sqlite_schema");
    const temp_copy temp(destination);
    backup_result result;
    {
        const raw_db copy(temp.path(), SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
        result = copy_pages(copy.get(), upkeep_handle(source), wal ? options.pages_per_step : -1, options,
                            steady::now() + source.options().busy_timeout);
    }
    snapshot.rollback();
    result.bytes = temp.install(options.verify);
    result.took = steady::now() - started;
    return result;
}

backup_result vacuum_connection(connection& source, const std::filesystem::path& destination, bool verify) {
    const auto started = steady::now();
    check_destination(source, destination);
    const temp_copy temp(destination);
    source.exec("VACUUM INTO ?", temp.path().string());
    backup_result result{.pages = 0, .bytes = 0, .steps = 1, .took = {}};
    result.bytes = temp.install(verify);
    result.took = steady::now() - started;
    return result;
}

void check_restore_source(const open_options& live, const std::filesystem::path& source, bool verify) {
    const std::string refused = "cannot restore '" + live.path + "' from '" + source.string() + "': ";
    if (is_memory_path(live.path)) throw backup_error(refused + "the pool's database is in memory");
    if (live.mode == open_mode::read_only) throw backup_error(refused + "the pool is read-only");
    std::error_code error;
    if (!fs::is_regular_file(source, error)) throw backup_error(refused + "no such file");
    if (fs::file_size(source, error) == 0)
        throw backup_error(refused + "the file is empty (restoring it would drop every table)");
    if (fs::exists(live.path, error) && fs::equivalent(source, live.path, error))
        throw backup_error(refused + "it is the live database itself");
    const raw_db from(source, SQLITE_OPEN_READONLY);
    const std::string answer =
        verify ? integrity_of(from.get())
               : (sqlite3_exec(from.get(), "PRAGMA schema_version", nullptr, nullptr, nullptr) == SQLITE_OK
                      ? "ok"
                      : sqlite3_errmsg(from.get()));
    if (answer != "ok") throw backup_error(refused + "not a sound SQLite database (" + answer + ")");
}

backup_result restore_into(const open_options& live, const std::filesystem::path& source,
                           std::chrono::steady_clock::time_point deadline) {
    const auto started = steady::now();
    const raw_db from(source, SQLITE_OPEN_READONLY);
    const connection to(live);
    backup_result result = copy_pages(upkeep_handle(to), from.get(), -1, {}, deadline);
    // The copy went through the WAL when the database is in WAL mode: hand the space back now
    // that this process has no other connection to the file.
    (void)sqlite3_exec(upkeep_handle(to), "PRAGMA wal_checkpoint(TRUNCATE)", nullptr, nullptr, nullptr);
    result.bytes = fs::file_size(live.path);
    result.took = steady::now() - started;
    return result;
}

} // namespace sqlpool::detail
