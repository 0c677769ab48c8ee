// pool_stats: a snapshot of what a pool holds and has done, and the one list of its figures that
// merging and the exports read (what a pool counts as it runs is in :stat_counters).
module;
#include "detail/gmf.hpp"
export module sqlpool:stats;
import :connection_info;

export namespace sqlpool {

// Connections closed, by reason; its fields are listed once, in detail::retired_fields.
struct retired_counts {
    std::uint64_t aged = 0;
    std::uint64_t idle = 0;
    std::uint64_t unhealthy = 0;
    std::uint64_t uses = 0;
    std::uint64_t broken = 0; // an error made it unusable, or its reset on return failed
    std::uint64_t shutdown = 0;
    std::uint64_t evicted = 0; // soft_evict() (or a restore) closed it
    std::uint64_t resized = 0; // beyond the max_connections resize() set

    [[nodiscard]] std::uint64_t total() const noexcept;
    void add(retire_reason reason, std::uint64_t n = 1) noexcept;
};

struct transaction_counts {
    std::uint64_t committed = 0;
    std::uint64_t rolled_back = 0;
    std::uint64_t retried = 0;       // attempts the runner repeated after SQLITE_BUSY
    std::uint64_t busy_seen = 0;     // busy errors the runner caught
    std::uint64_t busy_surfaced = 0; // busy errors that reached the caller
};

// What a pool's checkpoint manager saw and did (pool_config::checkpoints); all zero for pools
// that do not manage checkpoints. Its fields are listed once, in detail::wal_fields.
struct wal_counts {
    std::uint64_t bytes = 0;         // the WAL file's size at the last checkpoint round
    std::uint64_t frames_behind = 0; // WAL frames not yet copied into the database after it
    std::uint64_t passive = 0;       // PASSIVE checkpoints run
    std::uint64_t truncate = 0;      // TRUNCATE checkpoints that reset the WAL (past wal_hard_limit)
    std::uint64_t reader_gaps = 0;   // times new transactions were held for one
    std::uint64_t starved = 0;       // escalations that readers still kept from resetting the WAL
    std::uint64_t read_caps = 0;     // times read transactions were capped (read_transaction_limit)
};

// Its fields are listed once, in detail::for_each_stat, which merging and the exports read.
struct pool_stats {
    std::size_t total = 0; // open connections, leased or idle
    std::size_t idle = 0;
    std::size_t in_use = 0;          // leased, being opened, or being checked by maintenance
    std::size_t waiting = 0;         // threads blocked in acquire()
    std::size_t min_connections = 0; // as set by the configuration or resize()
    std::size_t max_connections = 0;
    std::size_t suspended = 0;  // 1 while suspend() holds new acquires (a read_write_pool: 2)
    std::uint64_t acquired = 0; // leases handed out
    std::uint64_t timeouts = 0;
    std::uint64_t created = 0; // connections opened
    std::uint64_t open_failures = 0;
    retired_counts closed;    // connections closed, by reason
    std::uint64_t resets = 0; // returns that needed a rollback, a statement reset or a setting restored
    std::uint64_t failed_health_checks = 0;
    std::uint64_t listener_errors = 0; // exceptions a pool_listener threw (and the pool swallowed)
    std::uint64_t long_leases = 0;     // leases held past lease_warn_after (each counted once)
    transaction_counts transactions;
    wal_counts wal;
    std::chrono::nanoseconds wait_p50{};
    std::chrono::nanoseconds wait_p99{};
    std::chrono::nanoseconds wait_max{};
};

} // namespace sqlpool

namespace sqlpool::detail {

// How a figure merges and exports: gauges and counters add up; of two wait quantiles the larger
// is kept (an upper bound: quantiles of two pools do not add).
enum class stat_kind { gauge, counter, wait };

// One figure of pool_stats as operators see it.
struct stat_field {
    const char* key = "";    // its JSON key, inside `group` when it has one
    const char* group = "";  // the JSON object holding it ("closed", "transactions", "wait_ns"), or ""
    const char* metric = ""; // its Prometheus family; a family's series are listed one after another
    const char* help = "";
    stat_kind kind = stat_kind::gauge;
    const char* label = ""; // the label telling the family's series apart ("reason"), or ""
    const char* label_value = "";
};

// retired_counts' fields, each by the retire_reason whose name labels it.
struct retired_field {
    retire_reason reason;
    std::uint64_t retired_counts::* member;
};
inline constexpr std::array<retired_field, 8> retired_fields{
    {{retire_reason::aged, &retired_counts::aged},
     {retire_reason::idle, &retired_counts::idle},
     {retire_reason::unhealthy, &retired_counts::unhealthy},
     {retire_reason::uses, &retired_counts::uses},
     {retire_reason::broken, &retired_counts::broken},
     {retire_reason::shutdown, &retired_counts::shutdown},
     {retire_reason::evicted, &retired_counts::evicted},
     {retire_reason::resized, &retired_counts::resized}}};

struct transaction_field {
    stat_field field;
    std::uint64_t transaction_counts::* member = nullptr;
};
inline constexpr std::array<transaction_field, 5> transaction_fields{{
    {{"committed", "transactions", "sqlpool_transactions_total", "Runner transactions, by outcome.",
      stat_kind::counter, "outcome", "committed"},
     &transaction_counts::committed},
    {{"rolled_back", "transactions", "sqlpool_transactions_total", "", stat_kind::counter, "outcome",
      "rolled_back"},
     &transaction_counts::rolled_back},
    {{"retried", "transactions", "sqlpool_transaction_retries_total",
      "Runner attempts repeated after SQLITE_BUSY.", stat_kind::counter},
     &transaction_counts::retried},
    {{"busy_seen", "transactions", "sqlpool_busy_errors_total", "Busy errors met by the runner, by fate.",
      stat_kind::counter, "fate", "seen"},
     &transaction_counts::busy_seen},
    {{"busy_surfaced", "transactions", "sqlpool_busy_errors_total", "", stat_kind::counter, "fate",
      "surfaced"},
     &transaction_counts::busy_surfaced},
}};

struct wal_field {
    stat_field field;
    std::uint64_t wal_counts::* member = nullptr;
};
inline constexpr std::array<wal_field, 7> wal_fields{{
    {{"bytes", "wal", "sqlpool_wal_bytes", "The WAL file's size at the last checkpoint round.",
      stat_kind::gauge},
     &wal_counts::bytes},
    {{"frames_behind", "wal", "sqlpool_wal_frames_behind", "WAL frames not yet checkpointed.",
      stat_kind::gauge},
     &wal_counts::frames_behind},
    {{"passive", "wal", "sqlpool_checkpoints_total", "Checkpoints run by the pool, by mode.",
      stat_kind::counter, "mode", "passive"},
     &wal_counts::passive},
    {{"truncate", "wal", "sqlpool_checkpoints_total", "", stat_kind::counter, "mode", "truncate"},
     &wal_counts::truncate},
    {{"reader_gaps", "wal", "sqlpool_reader_gaps_total", "Times new transactions were held for a checkpoint.",
      stat_kind::counter},
     &wal_counts::reader_gaps},
    {{"starved", "wal", "sqlpool_wal_starved_total",
      "Escalated checkpoints that readers kept from resetting the WAL.", stat_kind::counter},
     &wal_counts::starved},
    {{"read_caps", "wal", "sqlpool_read_caps_total",
      "Times read transactions were ended because the WAL starved for read_transaction_limit.",
      stat_kind::counter},
     &wal_counts::read_caps},
}};

struct wait_field {
    stat_field field;
    std::chrono::nanoseconds pool_stats::* member = nullptr;
};
inline constexpr std::array<wait_field, 3> wait_fields{{
    {{"p50", "wait_ns", "sqlpool_acquire_wait_seconds", "Acquire wait time quantiles.", stat_kind::wait,
      "quantile", "0.5"},
     &pool_stats::wait_p50},
    {{"p99", "wait_ns", "sqlpool_acquire_wait_seconds", "", stat_kind::wait, "quantile", "0.99"},
     &pool_stats::wait_p99},
    {{"max", "wait_ns", "sqlpool_acquire_wait_seconds", "", stat_kind::wait, "quantile", "1"},
     &pool_stats::wait_max},
}};

// The one list of pool_stats' figures, in export order: calls visit(field, s.member...) for each
// figure, with that member of every stats object given (one to export, two to merge).
// visit is called once per figure, so it is never forwarded.
template <class Visit, class... Stats>
constexpr void for_each_stat(Visit&& visit, Stats&... s) { // NOLINT(cppcoreguidelines-missing-std-forward)
    using enum stat_kind;
    visit(stat_field{"total", "", "sqlpool_connections", "Open connections, leased or idle.", gauge},
          s.total...);
    visit(stat_field{"idle", "", "sqlpool_connections_idle", "Idle connections.", gauge}, s.idle...);
    visit(stat_field{"in_use", "", "sqlpool_connections_in_use",
                     "Leased connections (or being opened or checked).", gauge},
          s.in_use...);
    visit(stat_field{"waiting", "", "sqlpool_waiting_threads", "Threads blocked in acquire().", gauge},
          s.waiting...);
    visit(stat_field{"min_connections", "", "sqlpool_connections_min",
                     "min_connections (resize() changes it).", gauge},
          s.min_connections...);
    visit(stat_field{"max_connections", "", "sqlpool_connections_max",
                     "max_connections (resize() changes it).", gauge},
          s.max_connections...);
    visit(stat_field{"suspended", "", "sqlpool_suspended", "1 while new acquires wait for resume().", gauge},
          s.suspended...);
    visit(stat_field{"acquired", "", "sqlpool_acquired_total", "Leases handed out.", counter}, s.acquired...);
    visit(stat_field{"timeouts", "", "sqlpool_timeouts_total", "acquire() calls that timed out.", counter},
          s.timeouts...);
    visit(stat_field{"created", "", "sqlpool_connections_created_total", "Connections opened.", counter},
          s.created...);
    visit(stat_field{"open_failures", "", "sqlpool_open_failures_total", "Connections that failed to open.",
                     counter},
          s.open_failures...);
    for (const auto& [reason, member] : retired_fields)
        visit(stat_field{to_string(reason), "closed", "sqlpool_connections_closed_total",
                         "Connections closed, by reason.", counter, "reason", to_string(reason)},
              (s.closed.*member)...);
    visit(stat_field{"resets", "", "sqlpool_resets_total",
                     "Returns that needed a rollback, statement reset or settings restore.", counter},
          s.resets...);
    visit(stat_field{"failed_health_checks", "", "sqlpool_failed_health_checks_total",
                     "Health checks that failed.", counter},
          s.failed_health_checks...);
    visit(stat_field{"listener_errors", "", "sqlpool_listener_errors_total",
                     "Exceptions thrown by the pool listener.", counter},
          s.listener_errors...);
    visit(stat_field{"long_leases", "", "sqlpool_long_leases_total", "Leases held past lease_warn_after.",
                     counter},
          s.long_leases...);
    for (const auto& [field, member] : transaction_fields) visit(field, (s.transactions.*member)...);
    for (const auto& [field, member] : wal_fields) visit(field, (s.wal.*member)...);
    for (const auto& [field, member] : wait_fields) visit(field, (s.*member)...);
}

} // namespace sqlpool::detail

namespace sqlpool {

inline std::uint64_t retired_counts::total() const noexcept {
    std::uint64_t sum = 0;
    for (const auto& field : detail::retired_fields) sum += this->*field.member;
    return sum;
}

inline void retired_counts::add(retire_reason reason, std::uint64_t n) noexcept {
    for (const auto& field : detail::retired_fields)
        if (field.reason == reason) this->*field.member += n;
}

} // namespace sqlpool

export namespace sqlpool {

// Adds `more` into `into`, e.g. the reader and writer pools of a read_write_pool: counts and
// gauges are summed, each wait quantile is the larger of the two.
inline pool_stats& operator+=(pool_stats& into, const pool_stats& more) noexcept {
    detail::for_each_stat(
        [](const detail::stat_field& field, auto& sum, const auto& part) {
            if (field.kind == detail::stat_kind::wait)
                sum = std::max(sum, part);
            else
                sum += part;
        },
        into, more);
    return into;
}

} // namespace sqlpool
