// backup: online backup and restore of a pool's SQLite database — backup_to() in paced steps of
// the SQLite backup API, vacuum_into() as the compacting alternative, and restore_from(), each
// checked with PRAGMA integrity_check and none of them leaving a half-written file behind.
module;
#include "../detail/gmf.hpp"
export module sqlpool:backup;
import :errors;
import :open_options;
import :connection;

export namespace sqlpool {

struct backup_progress {
    std::int64_t pages_copied = 0;
    std::int64_t pages_total = 0;
};

struct backup_options {
    // Pages copied per step; between steps the copying connection lets go of nothing but waits
    // `pause`, so that the copy does not monopolise the disk. A database that is not in WAL
    // mode is copied in one step: there, the read transaction behind the copy holds writers off.
    int pages_per_step = 256;
    std::chrono::milliseconds pause{2};
    // Called after each step; an exception from it abandons the backup (and propagates).
    std::function<void(const backup_progress&)> on_progress;
    bool verify = true; // PRAGMA integrity_check on the copy before it takes the destination's name
};

struct backup_result {
    std::int64_t pages = 0;
    std::uintmax_t bytes = 0; // the copy's size
    std::size_t steps = 0;
    std::chrono::nanoseconds took{};
};

struct restore_options {
    // How long leases may take to come back once the pool is suspended, and how long the copy may
    // wait for locks other processes hold.
    std::chrono::nanoseconds timeout = std::chrono::seconds(10);
    bool verify = true; // PRAGMA integrity_check on the file restored from, before anything changes
};

} // namespace sqlpool

namespace sqlpool::detail {

// The copy from a lease's connection, which holds one read transaction for all of it: a
// consistent snapshot that commits of other connections never restart.
backup_result backup_connection(connection& source, const std::filesystem::path& destination,
                                const backup_options& options);
backup_result vacuum_connection(connection& source, const std::filesystem::path& destination, bool verify);
// Checks the file to restore from; backup_error when it is not a sound database.
void check_restore_source(const open_options& live, const std::filesystem::path& source, bool verify);
backup_result restore_into(const open_options& live, const std::filesystem::path& source,
                           std::chrono::steady_clock::time_point deadline);

// Suspends `pool` for a restore and resumes it (when this suspended it) at the end.
template <class Pool>
class suspension {
public:
    explicit suspension(Pool& pool) : pool_(pool), mine_(pool.suspend()) {}
    suspension(const suspension&) = delete;
    suspension& operator=(const suspension&) = delete;
    suspension(suspension&&) = delete;
    suspension& operator=(suspension&&) = delete;
    ~suspension() {
        if (mine_) (void)pool_.resume();
    }

    // Waits until no lease is out; backup_error after `deadline`.
    void drain(std::chrono::steady_clock::time_point deadline) {
        while (pool_.stats().in_use != 0) {
            if (std::chrono::steady_clock::now() >= deadline)
                throw backup_error("restore of '" + pool_.config().database +
                                   "': " + std::to_string(pool_.stats().in_use) +
                                   " leases still out after the timeout; nothing was restored");
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
    }

private:
    Pool& pool_;
    bool mine_;
};

} // namespace sqlpool::detail

export namespace sqlpool {

// Copies the pool's live database to `destination` (replaced atomically, and only once the copy
// is complete and verified), while the pool goes on serving: the copy is the database as it was
// when the backup began. Takes one lease for the duration. backup_error (or a sqlite_error) when it
// cannot, with `destination` as it was.
template <class Pool>
backup_result backup_to(Pool& pool, const std::filesystem::path& destination,
                        const backup_options& options = {}) {
    auto lease = pool.acquire();
    return detail::backup_connection(*lease, destination, options);
}

// Like backup_to(), with VACUUM INTO: a compacted copy (no free pages), written in one statement.
template <class Pool>
backup_result vacuum_into(Pool& pool, const std::filesystem::path& destination, bool verify = true) {
    auto lease = pool.acquire();
    return detail::vacuum_connection(*lease, destination, verify);
}

// Replaces the pool's database with the content of `source` (a file backup_to() made, say):
// checks `source`, suspends the pool, waits for its leases, closes its connections, copies
// `source` into the live file with the backup API under SQLite's locks (the file keeps its inode,
// so no connection, of this process or another, goes on writing to a file no longer at the path),
// evicts what opened meanwhile and resumes. On failure nothing was restored and the pool resumes.
template <class Pool>
backup_result restore_from(Pool& pool, const std::filesystem::path& source,
                           const restore_options& options = {}) {
    const open_options live = pool.config().connection_options();
    detail::check_restore_source(live, source, options.verify);
    const auto deadline = std::chrono::steady_clock::now() + options.timeout;
    detail::suspension<Pool> suspended(pool);
    suspended.drain(deadline);
    (void)pool.soft_evict();
    backup_result result = detail::restore_into(live, source, deadline);
    (void)pool.soft_evict();
    return result;
}

} // namespace sqlpool
