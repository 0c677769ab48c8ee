// connection: opening and setting up a connection, scripts and the statement walk, behind the
// declarations of modules/sqlite/connection.cppm.
module;
#include "../detail/gmf.hpp"
module sqlpool;

namespace sqlpool {

namespace {

int open_flags(const open_options& options) {
    int flags = SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_URI | SQLITE_OPEN_EXRESCODE;
    switch (options.mode) {
    case open_mode::read_only:
        flags |= SQLITE_OPEN_READONLY;
        break;
    case open_mode::read_write:
        flags |= SQLITE_OPEN_READWRITE;
        break;
    case open_mode::read_write_create:
        flags |= SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
        break;
    }
    if (options.nofollow) flags |= SQLITE_OPEN_NOFOLLOW;
    return flags;
}

} // namespace

namespace detail {

bool has_temp_objects(sqlite3* db) noexcept {
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db, "SELECT 1 FROM temp.sqlite_schema LIMIT 1", -1, &stmt, nullptr) != SQLITE_OK)
        return true;
    const int code = sqlite3_step(stmt);
    sqlite3_finalize(stmt);
    return code != SQLITE_DONE;
}

} // namespace detail

connection::connection(open_options options) : options_(std::move(options)) {
    if (options_.path.empty())
        throw misuse_error("connection path is empty; use \":memory:\" for an in-memory database");
    for (const auto& [name, value] : options_.pragmas)
        if (auto problem = detail::pragma_problem(name, value)) throw misuse_error(std::move(*problem));
    create_with_mode();
    sqlite3* db = nullptr;
    const int code = sqlite3_open_v2(options_.path.c_str(), &db, open_flags(options_), nullptr);
    // sqlite3_open_v2 allocates a handle even when it fails; core_ owns (and closes) it from here.
    core_ = std::make_shared<detail::connection_core>(db, options_.statement_cache_size);
    core_->restorable_pragmas = {"busy_timeout", "journal_mode", "synchronous", "foreign_keys"};
    for (const auto& [name, value] : options_.pragmas) core_->restorable_pragmas.push_back(name);
    if (db == nullptr) throw sqlite_error(SQLITE_NOMEM, "out of memory opening a connection", "");
    if (code != SQLITE_OK) {
        const int extended = sqlite3_extended_errcode(db);
        std::string message = std::string(sqlite3_errmsg(db)) + " (opening '" + options_.path + "')";
        throw sqlite_error(extended != SQLITE_OK ? extended : code, std::move(message), "");
    }
    apply_defaults();
}

// Creates a missing database file with exactly options_.file_mode, so that SQLite (which creates
// files 0644 less the umask) opens a file only its owner can read. The umask does not narrow a
// mode the user asked for: fchmod sets it as given, as SQLite does for its journals
// (robust_open() in os_unix.c).
void connection::create_with_mode() const {
    if (!options_.file_mode || options_.mode != open_mode::read_write_create ||
        is_memory_path(options_.path) || options_.path.starts_with("file:"))
        return;
    const int flags = O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | (options_.nofollow ? O_NOFOLLOW : 0);
    const int fd = ::open(options_.path.c_str(), flags, static_cast<mode_t>(*options_.file_mode));
    if (fd < 0) return;                                           // other errors surface in sqlite3_open_v2
    (void)::fchmod(fd, static_cast<mode_t>(*options_.file_mode)); // an empty file is an empty database
    ::close(fd);
}

void connection::apply_defaults() {
    sqlite3* db = core_->db();
    // Hardening from https://sqlite.org/security.html: no schema tricks, no extension loading,
    // and functions with side effects are not trusted inside the schema.
    core_->check(sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, options_.defensive ? 1 : 0, nullptr),
                 "DBCONFIG_DEFENSIVE");
    // Two-argument fts3_tokenizer() lets SQL text hand SQLite a function pointer; some builds
    // (Debian's among them) enable it by default
    // (https://sqlite.org/fts3.html#custom_application_defined_tokenizers).
    core_->check(sqlite3_db_config(db, SQLITE_DBCONFIG_ENABLE_FTS3_TOKENIZER, 0, nullptr),
                 "DBCONFIG_ENABLE_FTS3_TOKENIZER");
    core_->check(sqlite3_db_config(db, SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION, 0, nullptr),
                 "DBCONFIG_ENABLE_LOAD_EXTENSION");
    core_->check(
        sqlite3_db_config(db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, options_.trusted_schema ? 1 : 0, nullptr),
        "DBCONFIG_TRUSTED_SCHEMA");
    for (const auto& [which, value] : options_.limits) sqlite3_limit(db, detail::limit_id(which), value);
    core_->user_authorizer = options_.authorizer;
    core_->check(sqlite3_set_authorizer(db, &detail::connection_core::authorize, core_.get()),
                 "set_authorizer");
    core_->check(sqlite3_busy_timeout(db, static_cast<int>(options_.busy_timeout.count())), "busy_timeout");
    core_->watch().attach(db);
    core_->watch_progress();
    // Reading the schema here surfaces a file that is not a database (NOTADB) at open time.
    (void)query_value<std::int64_t>("PRAGMA schema_version");
    apply_settings();
}

void connection::restore_settings() {
    apply_settings();
}

// The session settings a borrower could change with a PRAGMA, applied at open and restored by the
// pool when a borrower changed one.
void connection::apply_settings() {
    sqlite3* db = core().db();
    core_->check(sqlite3_busy_timeout(db, static_cast<int>(options_.busy_timeout.count())), "busy_timeout");
    const bool file_database = !is_memory_path(options_.path) && !read_only();
    if (file_database && options_.journal != journal_mode::unchanged) {
        const auto* const wanted = detail::name_of(detail::journal_mode_names, options_.journal);
        // Switching a new file to WAL needs an exclusive lock for a moment; when another process
        // is doing the same, SQLite can answer SQLITE_BUSY without calling the busy handler. Retry
        // for as long as the busy timeout allows.
        const auto deadline = std::chrono::steady_clock::now() + options_.busy_timeout;
        std::string got;
        for (auto pause = std::chrono::milliseconds(1);;
             pause = std::min(pause * 2, std::chrono::milliseconds(50))) {
            try {
                got = query_value<std::string>(std::string("PRAGMA journal_mode=") + wanted);
                break;
            } catch (const busy_error&) {
                if (std::chrono::steady_clock::now() + pause >= deadline) throw;
                std::this_thread::sleep_for(pause);
            }
        }
        if (got != wanted)
            throw sqlite_error(SQLITE_ERROR, "journal_mode stayed '" + got + "', wanted '" + wanted + "'",
                               std::string("PRAGMA journal_mode=") + wanted);
    }
    if (options_.synchronous != synchronous_mode::unchanged)
        pragma("synchronous", detail::name_of(detail::synchronous_mode_names, options_.synchronous));
    pragma("foreign_keys", options_.foreign_keys ? "ON" : "OFF");
    for (const auto& [name, value] : options_.pragmas) pragma(name, value);
    core_->settings_applied();
}

void connection::pragma(std::string_view name, std::string_view value) {
    exec("PRAGMA " + std::string(name) + "=" + std::string(value));
}

statement connection::prepare(std::string_view sql) {
    bool is_script = false;
    statement stmt = core().checkout(sql, is_script);
    if (is_script)
        throw misuse_error("prepare() takes one statement, got several; use exec() for scripts [sql: " +
                           std::string(sql) + "]");
    if (!stmt) throw misuse_error("prepare() got no statement [sql: " + std::string(sql) + "]");
    return stmt;
}

void connection::run_script(std::string_view sql) {
    sqlite3* db = core().db();
    while (!sql.empty()) {
        sqlite3_stmt* raw = nullptr;
        const char* tail = nullptr;
        const int code = sqlite3_prepare_v2(db, sql.data(), static_cast<int>(sql.size()), &raw, &tail);
        if (code != SQLITE_OK) core_->fail(code, sql);
        const std::unique_ptr<sqlite3_stmt, int (*)(sqlite3_stmt*)> owned(raw, &sqlite3_finalize);
        const auto consumed = static_cast<std::size_t>(tail - sql.data());
        if (raw != nullptr) {
            int step = SQLITE_ROW;
            while (step == SQLITE_ROW) step = sqlite3_step(raw);
            core_->after_step(raw);
            if (step != SQLITE_DONE) core_->fail(step, sqlite3_sql(raw));
        }
        if (consumed == 0) break;
        sql.remove_prefix(consumed);
    }
}

const char* connection::filename() const {
    const char* name = sqlite3_db_filename(core().db(), "main");
    return name != nullptr ? name : "";
}

// exec_many()'s savepoint (https://sqlite.org/lang_savepoint.html): outside a transaction it
// begins one, inside it nests.
void connection::begin_many() {
    exec("SAVEPOINT sqlpool_exec_many");
}

// Releases the savepoint, or (not `done`) rolls back to it first. When the error that stopped the
// rows already rolled the whole transaction back (SQLITE_FULL, say), the savepoint is gone: nothing
// is left to undo.
void connection::end_many(bool done) {
    if (done) {
        exec("RELEASE sqlpool_exec_many");
        return;
    }
    if (in_transaction())
        (void)sqlite3_exec(core().db(), "ROLLBACK TO sqlpool_exec_many; RELEASE sqlpool_exec_many", nullptr,
                           nullptr, nullptr);
}

bool connection::read_only() const {
    return sqlite3_db_readonly(core().db(), "main") == 1;
}

void connection::interrupt() noexcept {
    if (core_) sqlite3_interrupt(core_->db());
}

void connection::set_deadline(const deadline& limit) noexcept {
    if (!core_) return;
    if (limit.bounded())
        core_->set_limit(limit, options_.busy_timeout);
    else if (core_->limited())
        core_->clear_limit(options_.busy_timeout);
}

std::size_t connection::busy_statement_count() const noexcept {
    if (!core_) return 0;
    std::size_t busy = 0;
    for (sqlite3_stmt* stmt = sqlite3_next_stmt(core_->db(), nullptr); stmt != nullptr;
         stmt = sqlite3_next_stmt(core_->db(), stmt))
        busy += sqlite3_stmt_busy(stmt) != 0 ? 1 : 0;
    return busy;
}

// The reset on return, when something ran since the last one (see reset_for_reuse()).
reset_verdict connection::reset_touched() {
    core_->unshow();
    if (core_->limited()) core_->clear_limit(options_.busy_timeout); // before the ROLLBACK below
    bool restored = reset_all_statements() != 0;
    if (in_transaction()) {
        restored = true;
        exec("ROLLBACK");
        if (in_transaction()) return reset_verdict::retire;
    }
    if (broken_code() != 0 || session_tainted()) return reset_verdict::retire;
    if (settings_changed()) {
        restored = true;
        restore_settings();
    }
    mark_clean();
    return restored ? reset_verdict::restored : reset_verdict::clean;
}

bool connection::ping() {
    if (broken_code() != 0 || in_transaction() || file_moved()) return false;
    return query_value<std::int64_t>("SELECT 1") == 1;
}

void connection::idle_upkeep() noexcept {
    if (!core_ || core_->broken_code() != 0 || in_transaction()) return;
    sqlite3* db = core_->db();
    if (core_->optimizes()) {
        // https://sqlite.org/pragma.html#pragma_optimize: for long-lived connections, run it
        // periodically. Its ANALYZE writes: not worth waiting for the write lock.
        (void)sqlite3_busy_timeout(db, 0);
        (void)sqlite3_exec(db, "PRAGMA optimize", nullptr, nullptr, nullptr);
        (void)sqlite3_busy_timeout(db, static_cast<int>(options_.busy_timeout.count()));
    }
    (void)sqlite3_db_release_memory(db);
}

bool connection::settings_changed() const noexcept {
    return core_ && core_->settings_writes() != 0;
}

bool connection::session_tainted() const noexcept {
    // A database still attached taints too (checked here rather than at ATTACH: VACUUM attaches
    // and detaches one of its own). Index 2 is the first after main and temp.
    if (!core_) return false;
    if (core_->session_taints() != 0 || sqlite3_db_name(core_->db(), 2) != nullptr) return true;
    // After schema was created anywhere (or when statements escaped the authorizer through the raw
    // handle), the temp schema itself says whether a temporary object is left.
    return (core_->schema_writes() != 0 || core_->escaped()) && detail::has_temp_objects(core_->db());
}

void connection::accept_session_state() {
    if (!core_) return;
    core_->accept_session();
    if (core_->settings_writes() == 0) return;
    adopt_settings();
    core_->settings_applied();
}

namespace {
// What "PRAGMA name" answers, as text whatever its type (most answer an INTEGER), or nothing.
std::optional<std::string> pragma_text(sqlite3* db, const std::string& name) {
    sqlite3_stmt* stmt = nullptr;
    std::optional<std::string> text;
    if (sqlite3_prepare_v2(db, ("PRAGMA " + name).c_str(), -1, &stmt, nullptr) == SQLITE_OK &&
        sqlite3_step(stmt) == SQLITE_ROW) {
        if (const auto* value = sqlite3_column_text(stmt, 0); value != nullptr)
            text = reinterpret_cast<const char*>(value);
    }
    sqlite3_finalize(stmt);
    return text;
}
} // namespace

// The restorable settings as they are now become the ones apply_settings() applies: what a pool's
// on_connect set is what every borrower gets back.
void connection::adopt_settings() {
    options_.busy_timeout = std::chrono::milliseconds(query_value<std::int64_t>("PRAGMA busy_timeout"));
    options_.foreign_keys = query_value<std::int64_t>("PRAGMA foreign_keys") != 0;
    // 0 to 3 are OFF, NORMAL, FULL and EXTRA (https://sqlite.org/pragma.html#pragma_synchronous).
    if (const auto level = query_value<std::int64_t>("PRAGMA synchronous"); level >= 0 && level <= 3)
        options_.synchronous = static_cast<synchronous_mode>(level);
    if (options_.journal != journal_mode::unchanged) {
        const auto mode = query_value<std::string>("PRAGMA journal_mode");
        if (const auto known = detail::value_of(detail::journal_mode_names, mode)) options_.journal = *known;
    }
    for (auto& [name, value] : options_.pragmas)
        if (auto now = pragma_text(core().db(), name)) value = std::move(*now);
}

std::size_t connection::reset_all_statements() noexcept {
    if (!core_ || !core_->may_have_busy_statements()) return 0;
    std::size_t reset = 0;
    for (sqlite3_stmt* stmt = sqlite3_next_stmt(core_->db(), nullptr); stmt != nullptr;
         stmt = sqlite3_next_stmt(core_->db(), stmt)) {
        if (sqlite3_stmt_busy(stmt) != 0) {
            sqlite3_reset(stmt);
            ++reset;
        }
    }
    return reset;
}

} // namespace sqlpool

namespace sqlpool::detail {

sqlite3* upkeep_handle(const connection& conn) {
    return conn.core().db();
}

} // namespace sqlpool::detail
