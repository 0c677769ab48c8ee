// pool_config: every knob of a pool in one plain struct, with defaults a user can guess, and a
// validate() that reports every bad value at once.
module;
#include "detail/gmf.hpp"
export module sqlpool:config;
import :errors;
import :sqlite;
import :names;
import :events;
import :checkpointer;

namespace sqlpool {
using namespace std::chrono_literals; // for the defaults below; not exported
} // namespace sqlpool

export namespace sqlpool {

// What parse_with_notes() and from_env_with_notes() make of a key they do not know. strict: a
// config_error (a typo must not pass silently), what parse() and from_env() do. lenient: a note,
// and the key is ignored (a configuration or environment shared with other programs).
enum class config_mode { strict, lenient };

struct parsed_config;

} // namespace sqlpool

namespace sqlpool::detail {

inline constexpr enum_names<config_mode, 2> config_mode_names{
    {{config_mode::strict, "strict"}, {config_mode::lenient, "lenient"}}};
static_assert(in_enum_order(config_mode_names));

} // namespace sqlpool::detail

export namespace sqlpool {

// validate() accepts only values the pool honours as written:
//  - every duration at most max_duration (100 years), so that each deadline the pool computes
//    (now + duration, in steady_clock's nanoseconds) stays representable; busy_timeout at most
//    max_busy_timeout (INT_MAX ms, about 24.8 days), what sqlite3_busy_timeout takes;
//  - a database name without a NUL byte (SQLite would open the name before it);
//  - pragmas of a plain name and a plain value (letters, digits, '_', '-', '.'), the rule
//    connection enforces, so that no value can carry a second statement;
//  - pragmas and limits with which a connection can be set up: when any is set, validate() sets up
//    a private in-memory connection with them (process-wide pragmas such as hard_heap_limit
//    aside), so a pragma SQLite refuses ("encoding=abc", "x=a.b-1"), a negative limit, a limit
//    SQLite would silently change (above its compiled-in bound) or one under which sqlpool's own
//    statements fail is refused;
//  - file_mode within 0777;
//  - max_connections at most max_pool_size: a pool allocates its slot table up front.
struct pool_config {
    // The longest duration any field may hold: 100 years.
    static constexpr std::chrono::milliseconds max_duration =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::years(100));
    // The longest busy_timeout: sqlite3_busy_timeout takes an int of milliseconds.
    static constexpr std::chrono::milliseconds max_busy_timeout{std::numeric_limits<int>::max()};
    // The largest max_connections: a pool allocates one 64-byte slot per connection up front (4 MiB
    // at this size), and a process runs out of file descriptors long before.
    static constexpr std::size_t max_pool_size = 65'536;

    // The database file, ":memory:" (one in-memory database shared by the pool's connections),
    // or a "file:" URI.
    std::string database;

    // How each connection is opened (see open_options); the defaults are open_options' own.
    open_mode mode = open_options{}.mode;
    std::chrono::milliseconds busy_timeout = open_options{}.busy_timeout;
    bool nofollow = open_options{}.nofollow;
    journal_mode journal = open_options{}.journal;
    synchronous_mode synchronous = open_options{}.synchronous;
    bool foreign_keys = open_options{}.foreign_keys;
    std::vector<std::pair<std::string, std::string>> pragmas;
    std::size_t statement_cache_size = open_options{}.statement_cache_size;
    bool defensive = open_options{}.defensive;
    bool trusted_schema = open_options{}.trusted_schema;
    std::optional<unsigned> file_mode = open_options{}.file_mode; // of a database file the pool creates
    std::vector<std::pair<limit, int>> limits;
    authorizer_function authorizer;

    // Pool size: min_connections are kept open once warm; never more than max_connections.
    std::size_t min_connections = 1;
    std::size_t max_connections = 8;

    // How long acquire() waits for a connection before it throws timeout_error.
    std::chrono::milliseconds acquire_timeout = 5s;
    // A thread that holds a lease and asks the same pool for another, when every lease is held by
    // a thread waiting for one more, fails at once with nested_acquire_error: otherwise all of
    // them wait out acquire_timeout. Off: they wait (a lease moved to another thread still counts
    // as held by the thread that acquired it).
    bool detect_nested_acquire = true;
    // A lease held this long is reported once, through pool_listener::on_long_lease and
    // pool_stats::long_leases, by maintenance (so not without background_maintenance unless
    // maintain() is called). 0: never.
    std::chrono::milliseconds lease_warn_after = 60s;
    // A connection retires after this age, shortened by a random part of max_age_jitter (0..1) so
    // that connections opened together do not all retire together.
    std::chrono::milliseconds connection_max_age = 30min;
    double max_age_jitter = 0.10;
    // An idle connection above min_connections retires after this long unused.
    std::chrono::milliseconds idle_timeout = 10min;
    // Idle connections are health-checked this often (for policies that check periodically).
    std::chrono::milliseconds health_check_interval = 30s;
    // A connection retires after this many leases; 0 means unlimited.
    std::uint64_t max_uses = 0;
    // How long read()/write() keep retrying a transaction that meets SQLITE_BUSY.
    std::chrono::milliseconds transaction_timeout = 10s;
    // How long close() (and the destructor) wait for outstanding leases.
    std::chrono::milliseconds close_timeout = 30s;
    // Whether the pool runs maintenance on a background thread, and how often. Without it,
    // call maintain() yourself.
    bool background_maintenance = true;
    std::chrono::milliseconds maintenance_interval = 1s;

    // Who checkpoints a WAL database file (see checkpoint_mode). `managed` needs
    // background_maintenance; without it the pool leaves checkpoints to SQLite.
    checkpoint_mode checkpoints = checkpoint_mode::managed;
    // managed: the pool runs PASSIVE checkpoints once the WAL holds this many bytes; a reset WAL
    // shrinks back to it (journal_size_limit, unless a pragma sets that).
    std::uint64_t wal_soft_limit = std::uint64_t{4} << 20;
    // managed: the WAL's cap. From 3/4 of it new transactions of every pool on the file wait (up
    // to reader_gap) while a TRUNCATE checkpoint resets the WAL, and writers wait at their commit
    // until it did; only a transaction bigger than a quarter of the cap can pass it.
    std::uint64_t wal_hard_limit = std::uint64_t{16} << 20;
    // managed: how long new transactions may be held for one checkpoint, and how long it waits
    // for the readers already in the WAL.
    std::chrono::milliseconds reader_gap = 200ms;
    // managed: once checkpoints at the hard size have failed this long (readers stayed in the WAL
    // through the reader gaps), read transactions on the file's pooled connections end: a running
    // statement is interrupted and the next one refused (timeout_error), until a checkpoint
    // resets the WAL. A transaction that runs nothing meanwhile is not reached. 0: never.
    std::chrono::milliseconds read_transaction_limit = 30s;
    // PRAGMA optimize as SQLite recommends for long-lived connections
    // (https://sqlite.org/pragma.html#pragma_optimize): with analysis_limit=400 (unless a pragma
    // sets it), optimize=0x10002 when a connection opens, and optimize when it closes. Connections
    // retire after connection_max_age, so a long-running pool runs it about that often. File
    // databases a pool may write only.
    bool optimize = true;
    // A connection idle this long is tended once by maintenance (until it is used again): its
    // session's idle_upkeep(), for SQLite PRAGMA optimize (when `optimize`) and its page cache
    // given back. 0: never.
    std::chrono::milliseconds idle_upkeep_after = 60s;

    // Runs on every new connection after sqlpool's defaults, before it is first handed out.
    std::function<void(connection&)> on_connect;

    // Told of connects, acquires, releases, retirements, failed health checks, timeouts, busy
    // retries and the close (see pool_listener). Not set: no cost but a null check per event.
    std::shared_ptr<pool_listener> listener;

    // Every violation, each a sentence naming the field and its value; empty when valid. With
    // pragmas or limits set, opens a private in-memory connection to try them.
    [[nodiscard]] std::vector<std::string> validate() const;

    // A configuration from text: whitespace-separated key=value pairs naming pool_config's fields,
    // e.g. "database=app.db max_connections=8 connection_max_age=30m"; a duration is a number with
    // a unit (ms, s, m, h) or without one, in seconds (the original Python service's convention),
    // and may have a fraction of whole milliseconds ("1.5" is 1500ms); a value with spaces goes in
    // double quotes; `pragma.NAME=VALUE` adds a pragma. An old key name (`path`) reads as the
    // current one. Unknown keys, bad numbers and bad units are reported together, with the valid
    // keys, as one config_error; then validate() runs on the result. on_connect cannot be set from
    // text.
    [[nodiscard]] static pool_config parse(std::string_view text);
    [[nodiscard]] static pool_config parse(std::string_view text, pool_config base);

    // A configuration from environment variables PREFIX + the field name in upper case
    // (SQLPOOL_MAX_CONNECTIONS=8, SQLPOOL_PRAGMA_CACHE_SIZE=-2000), over `base`. Any other
    // variable with the prefix is an unknown key.
    [[nodiscard]] static pool_config from_env(std::string_view prefix = "SQLPOOL_");
    [[nodiscard]] static pool_config from_env(std::string_view prefix, pool_config base);

    // parse() and from_env() in a config_mode (parse() and from_env() are strict), with a note for
    // each old key name read (deprecated: write the current one) and, when lenient, each unknown
    // key ignored.
    [[nodiscard]] static parsed_config parse_with_notes(std::string_view text, config_mode mode);
    [[nodiscard]] static parsed_config parse_with_notes(std::string_view text, config_mode mode,
                                                        pool_config base);
    [[nodiscard]] static parsed_config from_env_with_notes(std::string_view prefix, config_mode mode);
    [[nodiscard]] static parsed_config from_env_with_notes(std::string_view prefix, config_mode mode,
                                                           pool_config base);

    // Every field that parse() knows, as key=value text (quoted where needed); parse(to_string())
    // gives back an equal configuration, on_connect aside.
    [[nodiscard]] std::string to_string() const;

    // Throws config_error listing every violation, if there is any.
    void check() const {
        if (auto problems = validate(); !problems.empty()) throw config_error(std::move(problems));
    }
    // This configuration, validated (see check()): for constructors' initialiser lists.
    [[nodiscard]] const pool_config& checked() const {
        check();
        return *this;
    }

    // The open_options every connection of the pool is opened with (path as given).
    [[nodiscard]] open_options connection_options() const {
        return open_options{.path = database,
                            .mode = mode,
                            .busy_timeout = busy_timeout,
                            .nofollow = nofollow,
                            .journal = journal,
                            .synchronous = synchronous,
                            .foreign_keys = foreign_keys,
                            .pragmas = pragmas,
                            .statement_cache_size = statement_cache_size,
                            .defensive = defensive,
                            .trusted_schema = trusted_schema,
                            .file_mode = file_mode,
                            .limits = limits,
                            .authorizer = authorizer};
    }
};

// What pool_config::parse_with_notes() and from_env_with_notes() read: the configuration,
// validated, and the notes, each a sentence naming its key (or variable).
struct parsed_config {
    pool_config config;
    std::vector<std::string> notes;
};

[[nodiscard]] constexpr const char* to_string(config_mode mode) noexcept {
    return detail::name_of(detail::config_mode_names, mode);
}

} // namespace sqlpool

namespace sqlpool::detail {

// How validate() bounds one duration field. The field names of durations are written here only.
struct duration_rule {
    std::string_view name;
    std::chrono::milliseconds pool_config::* member;
    bool zero_allowed;
    std::chrono::milliseconds max;
};

inline constexpr std::array<duration_rule, 12> duration_rules{{
    {"acquire_timeout", &pool_config::acquire_timeout, false, pool_config::max_duration},
    {"lease_warn_after", &pool_config::lease_warn_after, true, pool_config::max_duration},
    {"connection_max_age", &pool_config::connection_max_age, false, pool_config::max_duration},
    {"idle_timeout", &pool_config::idle_timeout, false, pool_config::max_duration},
    {"health_check_interval", &pool_config::health_check_interval, false, pool_config::max_duration},
    {"transaction_timeout", &pool_config::transaction_timeout, false, pool_config::max_duration},
    {"maintenance_interval", &pool_config::maintenance_interval, false, pool_config::max_duration},
    {"busy_timeout", &pool_config::busy_timeout, true, pool_config::max_busy_timeout},
    {"close_timeout", &pool_config::close_timeout, true, pool_config::max_duration},
    {"reader_gap", &pool_config::reader_gap, false, pool_config::max_busy_timeout},
    {"read_transaction_limit", &pool_config::read_transaction_limit, true, pool_config::max_duration},
    {"idle_upkeep_after", &pool_config::idle_upkeep_after, true, pool_config::max_duration},
}};

inline constexpr unsigned max_file_mode = 0777;

// The problems of min_connections and max_connections, for validate() and resize().
void check_sizes(const pool_config& config, std::vector<std::string>& problems);

} // namespace sqlpool::detail
