// What the database service answers to health, liveness and readiness probes: judged from its
// state, its pool's figures against those of the previous answer, and the file it opened.
module;
#include "detail/gmf.hpp"
export module sqlpool:service_health;
import :component;
import :session;
import :stats;

export namespace sqlpool {

// The database file the service opened at start: its name as SQLite resolved it, and what it was
// (unknown for an in-memory database, which has no file to lose, and for a server database).
struct watched_file {
    std::string name;
    session_identity opened;
};

} // namespace sqlpool

namespace sqlpool::detail {

// What a probe concludes: the report, and whether the service takes work now.
struct assessment {
    health_report report;
    bool ready = false;
};

// The file at `name` now: {} when nothing is there (deleted or renamed away).
[[nodiscard]] session_identity identity_at(const std::string& name) noexcept;

// The reasons `now`'s figures give against `before`'s (the previous answer's): open failures,
// failed health checks, acquire timeouts, a full pool with threads waiting, an operator's
// suspend(), a WAL past `wal_hard_limit` (0: not managed) or starving.
void assess_figures(health_report& report, const pool_stats& now, const pool_stats& before,
                    std::uint64_t wal_hard_limit);

// The reason a file deleted or replaced since start gives (down), if it was.
void assess_file(health_report& report, const watched_file& file, session_identity at_path);

// The service's memory between probes: the figures of the previous answer, the file opened at
// start, and the figures its pool had when it stopped. Thread-safe.
class health_monitor {
public:
    // The service started on `file`; figures count from `baseline`.
    void started(watched_file file, const pool_stats& baseline);
    // The service stopped; `final` is what stats() answers until it starts again.
    void stopped(const pool_stats& final);
    [[nodiscard]] pool_stats final_stats() const;

    // `figures` gives the running pool's figures, or nothing when the service stopped meanwhile
    // (asked only when `state` is running); the baseline moves to them.
    [[nodiscard]] assessment assess(service_state state,
                                    const std::function<std::optional<pool_stats>()>& figures,
                                    std::uint64_t wal_hard_limit);
    // Live unless running on a file deleted or replaced since start (a restart reopens the path).
    [[nodiscard]] bool live(service_state state) const;

private:
    mutable std::mutex mutex_;
    pool_stats before_;
    pool_stats final_;
    watched_file file_;
};

} // namespace sqlpool::detail
