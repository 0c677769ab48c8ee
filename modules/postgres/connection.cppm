// connection: one libpq connection to a PostgreSQL server, a session of sqlpool's pool core (see
// sqlpool's :session). Statements with parameters are prepared once per connection (PQprepare,
// PQsendQueryPrepared) and kept in a bounded cache; every statement runs through libpq's
// asynchronous calls, so that a deadline, the pool's interrupt order or interrupt() from another
// thread cancel it (PQcancel) instead of waiting it out.
module;
#include "gmf.hpp"
export module sqlpool.postgres:connection;
import sqlpool;
import :sqlstate;
import :values;
import :result;
import :isolation;
import :transaction;

export namespace sqlpool::postgres {

// How a session is made clean when it goes back to the pool (see connection::reset_for_reuse).
//   discard_when_changed  ROLLBACK of an open transaction, and DISCARD ALL only after a statement
//                         that may have changed session state (see connection::changes_session)
//   discard_always        DISCARD ALL after every lease that ran anything (for code whose
//                         functions change session state: temp tables, set_config, session locks)
enum class reset_mode : std::uint8_t { discard_when_changed, discard_always };

struct connection_options {
    // A libpq conninfo string ("host=... port=... dbname=...") or URI ("postgresql://...").
    // Session settings belong in it (options='-c search_path=app'): DISCARD ALL restores them.
    std::string conninfo;
    // Keywords and values after it (PQconnectdbParams); a keyword given here wins.
    std::vector<std::pair<std::string, std::string>> parameters;
    // Prepared statements kept per connection; the oldest is deallocated past it. 0: none kept.
    std::size_t statement_cache_size = 64;
    reset_mode reset = reset_mode::discard_when_changed;
};

// Whether a statement's text may change session state (anything DISCARD ALL undoes): everything
// but plain SELECT / INSERT / UPDATE / DELETE / WITH / VALUES and transaction control, and those
// too when they mention temp tables, SELECT INTO, set_config, advisory locks, PREPARE, LISTEN,
// or DECLARE. Functions that change session state are not seen: use reset_mode::discard_always
// or connection::mark_session_changed() for them.
[[nodiscard]] bool changes_session(std::string_view sql);

class connection {
public:
    using level_type = isolation_level;

    // Connects (blocking; bound it with connect_timeout in the conninfo); connection_lost_error
    // with libpq's message when it cannot.
    explicit connection(connection_options options);
    // Connects to `conninfo` with the default options.
    explicit connection(std::string conninfo) : connection(options_for(std::move(conninfo))) {}
    connection(const connection&) = delete;
    connection& operator=(const connection&) = delete;
    connection(connection&& other) noexcept;
    connection& operator=(connection&& other) noexcept;
    ~connection();

    // Runs `sql` (with parameters: prepared once, then executed; without: the simple protocol,
    // several statements allowed) and returns the rows it changed.
    template <bindable... Args>
    std::int64_t exec(std::string_view sql, const Args&... args) {
        return run(sql, args...).affected();
    }
    // The whole result.
    template <bindable... Args>
    result run(std::string_view sql, const Args&... args) {
        if constexpr (sizeof...(Args) == 0) {
            return run_simple(sql);
        } else {
            const std::array<std::optional<std::string>, sizeof...(Args)> texts{to_param(args)...};
            std::array<const char*, sizeof...(Args)> values{};
            std::array<int, sizeof...(Args)> lengths{};
            for (std::size_t i = 0; i < texts.size(); ++i) {
                values[i] = texts[i] ? texts[i]->c_str() : nullptr;
                lengths[i] = texts[i] ? static_cast<int>(texts[i]->size()) : 0;
            }
            return run_prepared(sql, values, lengths);
        }
    }
    // Every row as a tuple (prepared, also without parameters).
    template <column_type... Ts, bindable... Args>
    std::vector<std::tuple<Ts...>> query(std::string_view sql, const Args&... args) {
        const result res = run_query(sql, args...);
        std::vector<std::tuple<Ts...>> rows;
        rows.reserve(static_cast<std::size_t>(res.rows()));
        for (int r = 0; r < res.rows(); ++r) rows.push_back(res.row<Ts...>(r));
        return rows;
    }
    template <column_type... Ts, bindable... Args>
    std::optional<std::tuple<Ts...>> query_one(std::string_view sql, const Args&... args) {
        const result res = run_query(sql, args...);
        if (res.rows() == 0) return std::nullopt;
        return res.row<Ts...>(0);
    }
    // The first column of the first row; misuse_error when there is no row.
    template <column_type T, bindable... Args>
    T query_value(std::string_view sql, const Args&... args) {
        const result res = run_query(sql, args...);
        if (res.rows() == 0) throw misuse_error("query_value: no row [sql: " + std::string(sql) + "]");
        return std::get<0>(res.row<T>(0));
    }

    // A transaction at this session's default level (or `level`), read-write unless `access` says.
    [[nodiscard]] transaction begin() { return begin(level_); }
    [[nodiscard]] transaction begin(isolation_level level, access_mode access = access_mode::read_write) {
        return transaction(*this, begin_statement(level, access));
    }

    // The session concept (sqlpool's :session).
    reset_verdict reset_for_reuse();
    [[nodiscard]] int broken_code() const noexcept;
    [[nodiscard]] static error_action classify(int code) noexcept {
        return classify_sqlstate(sqlstate_text(code));
    }
    [[nodiscard]] bool ping();
    [[nodiscard]] session_identity identity() const noexcept { return {}; }
    void set_default_isolation(isolation_level level) noexcept { level_ = level; }
    [[nodiscard]] isolation_level default_isolation() const noexcept { return level_; }
    void interrupt() noexcept;
    void idle_upkeep() noexcept {} // the server keeps its own statistics (autovacuum); nothing to give back
    void set_deadline(const deadline& limit) noexcept { limit_ = limit; }
    void attach(session_board& board) noexcept { board_ = &board; }

    // Says that the borrower changed session state the statement check cannot see: DISCARD ALL on return.
    void mark_session_changed() noexcept { changed_ = true; }
    [[nodiscard]] std::size_t prepared_statements() const noexcept { return prepared_.size(); }
    // The server's process id for this session (pg_backend_pid()), e.g. for pg_terminate_backend.
    [[nodiscard]] int backend_pid() const noexcept { return PQbackendPID(conn_); }
    [[nodiscard]] PGconn* native() const noexcept { return conn_; }

private:
    template <bindable... Args>
    result run_query(std::string_view sql, const Args&... args) {
        if constexpr (sizeof...(Args) == 0) {
            return run_prepared(sql, {}, {});
        } else {
            return run(sql, args...);
        }
    }

    result run_simple(std::string_view sql);
    result run_prepared(std::string_view sql, std::span<const char* const> values,
                        std::span<const int> lengths);
    struct prepared_statement {
        std::string name;
        bool changes_session = false;
    };
    // Lookups by string_view, without a std::string per statement.
    struct text_hash {
        using is_transparent = void;
        std::size_t operator()(std::string_view text) const noexcept {
            return std::hash<std::string_view>{}(text);
        }
    };

    static connection_options options_for(std::string conninfo) {
        connection_options options;
        options.conninfo = std::move(conninfo);
        return options;
    }
    const prepared_statement& prepared(std::string_view sql);
    void forget_prepared() noexcept;
    void before_statement(std::string_view sql);
    result collect(std::string_view sql);
    void end_copy(ExecStatusType status);
    bool wait_readable(std::string_view sql, bool shown);
    void cancel_for(int reason) noexcept;
    [[noreturn]] void throw_failure(const result& res, std::string_view sql);
    [[noreturn]] void throw_lost(std::string_view sql);
    void note_command(const result& res) noexcept;
    void close() noexcept;

    friend class transaction;
    friend class savepoint;

    PGconn* conn_ = nullptr;
    PGcancel* cancel_ = nullptr;
    connection_options options_;
    isolation_level level_ = isolation_level::read_committed;
    std::unordered_map<std::string, prepared_statement, text_hash, std::equal_to<>> prepared_;
    std::deque<std::string> prepared_order_; // oldest first
    std::uint64_t next_statement_ = 0;
    deadline limit_;
    session_board* board_ = nullptr;
    int broken_ = 0;    // the SQLSTATE code that broke it
    int cancelled_ = 0; // why this session cancelled the running statement (0: it did not)
    std::chrono::steady_clock::time_point cancelled_at_;
    bool changed_ = false; // session state may differ from a new session's
    bool used_ = false;    // something ran since the last reset
};

} // namespace sqlpool::postgres
