// session: the session concepts, sqlpool::connection as their first model (its reset verdicts and
// error classification), and a pool over a session that is not SQLite's: the core names nothing of
// SQLite, and a user-written session gets the pool's guarantees (exclusive use, resets counted,
// broken sessions replaced, a replaced database never mixed with the old one).
#define BOOST_TEST_MODULE session
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "support/temp_dir.hpp"

import sqlpool;

namespace {

using namespace std::chrono_literals;

// The "database" fake sessions connect to, found by the pool config's database name (a pool makes
// its source from its config). The test steers it and reads what happened.
struct fake_server {
    std::atomic<int> opened{0};
    std::atomic<int> closed{0};
    std::atomic<std::uint64_t> identity{1}; // which database is there now
};

fake_server& server_named(const std::string& name) {
    static std::mutex mutex;
    static std::map<std::string, std::unique_ptr<fake_server>> servers;
    const std::lock_guard lock(mutex);
    auto& server = servers[name];
    if (!server) server = std::make_unique<fake_server>();
    return *server;
}

constexpr int busy_code = 5;
constexpr int lost_code = 57;  // the connection is gone: retire it
constexpr int moved_code = 99; // the database was replaced: retire every session

// A session whose state the test sets: what the borrower left behind decides the reset verdict.
class fake_session {
public:
    using level_type = int;

    struct state {
        fake_server* server = nullptr;
        std::uint64_t identity = 0;
        std::atomic<int> users{0}; // borrowers using it right now: never more than one
        int level = -1;
        bool dirty = false;
        bool unfixable = false;
        int broken = 0;
        int upkeeps = 0;
        bool limited = false;                    // a deadline is set, until the reset on return
        sqlpool::session_board* board = nullptr; // the pool's, from attach()
    };

    fake_session(fake_server& server, int level) : state_(std::make_unique<state>()) {
        state_->server = &server;
        state_->identity = server.identity.load();
        state_->level = level;
        server.opened.fetch_add(1);
    }
    fake_session(fake_session&&) noexcept = default;
    fake_session& operator=(fake_session&&) noexcept = default;
    ~fake_session() {
        if (state_) state_->server->closed.fetch_add(1);
    }

    sqlpool::reset_verdict reset_for_reuse() {
        if (state_->broken != 0 || state_->unfixable) return sqlpool::reset_verdict::retire;
        state_->limited = false;
        if (!std::exchange(state_->dirty, false)) return sqlpool::reset_verdict::clean;
        return sqlpool::reset_verdict::restored;
    }
    [[nodiscard]] int broken_code() const noexcept { return state_->broken; }
    static constexpr sqlpool::error_action classify(int code) noexcept {
        if (code == busy_code) return sqlpool::error_action::retry;
        if (code == lost_code) return sqlpool::error_action::retire;
        if (code == moved_code) return sqlpool::error_action::reconnect_all;
        return sqlpool::error_action::fail;
    }
    bool ping() { return state_->broken == 0; }
    [[nodiscard]] sqlpool::session_identity identity() const noexcept { return {7, state_->identity}; }
    void set_default_isolation(int level) noexcept { state_->level = level; }
    int begin(int level) { return level; }
    void interrupt() noexcept {}
    void idle_upkeep() noexcept { ++state_->upkeeps; }
    void set_deadline(const sqlpool::deadline& limit) noexcept { state_->limited = limit.bounded(); }
    void attach(sqlpool::session_board& board) noexcept { state_->board = &board; }

    state& get() { return *state_; }

private:
    std::unique_ptr<state> state_;
};

class fake_source {
public:
    using session_type = fake_session;

    explicit fake_source(const sqlpool::pool_config& config)
        : server_(&server_named(config.database)), name_(config.database) {}
    fake_session open(int level) { return {*server_, level}; }
    [[nodiscard]] sqlpool::session_identity identity_now() const noexcept {
        return {7, server_->identity.load()};
    }
    void opened(const fake_session&) {}
    void close() noexcept {}
    void report(sqlpool::pool_stats& /*stats*/) const noexcept {}
    [[nodiscard]] const std::string& describe() const noexcept { return name_; }

private:
    fake_server* server_;
    std::string name_;
};

struct fake_isolation {
    static constexpr int default_level = 3;
    static constexpr int write_level = 4;
};

using fake_pool =
    sqlpool::basic_pool<sqlpool::locking::std_mutex, sqlpool::health::ping, sqlpool::recycling::standard,
                        fake_isolation, sqlpool::queue::barging, sqlpool::coarse_steady_clock, fake_source>;

sqlpool::pool_config fake_config(const std::string& name, std::size_t min, std::size_t max) {
    return {.database = name,
            .busy_timeout =
                100ms, // a SQLite setting, validated for every pool: it must stay below acquire_timeout
            .min_connections = min,
            .max_connections = max,
            .acquire_timeout = 200ms,
            .background_maintenance = false};
}

struct not_a_session {
    using level_type = int;
    bool ping() { return true; }
};

} // namespace

// The concepts

static_assert(sqlpool::session<sqlpool::connection>);
static_assert(sqlpool::session<fake_session>);
static_assert(!sqlpool::session<not_a_session>);
static_assert(!sqlpool::session<int>);
static_assert(sqlpool::session_source<sqlpool::sqlite_source, sqlpool::pool_config>);
static_assert(sqlpool::session_source<fake_source, sqlpool::pool_config>);
static_assert(std::same_as<fake_pool::lease, sqlpool::basic_lease<fake_session>>);
static_assert(std::same_as<sqlpool::pool::lease, sqlpool::lease>);
// ping asks the session; quick_check and file_identity are SQLite's own.
static_assert(sqlpool::health_policy<sqlpool::health::ping, fake_session>);
static_assert(!sqlpool::health_policy<sqlpool::health::quick_check, fake_session>);
static_assert(!sqlpool::health_policy<sqlpool::health::file_identity, fake_session>);

BOOST_AUTO_TEST_CASE(verdicts_and_actions_have_names) {
    BOOST_TEST(std::string(to_string(sqlpool::reset_verdict::clean)) == "clean");
    BOOST_TEST(std::string(to_string(sqlpool::reset_verdict::restored)) == "restored");
    BOOST_TEST(std::string(to_string(sqlpool::reset_verdict::retire)) == "retire");
    BOOST_TEST(std::string(to_string(sqlpool::error_action::retry)) == "retry");
    BOOST_TEST(std::string(to_string(sqlpool::error_action::reconnect_all)) == "reconnect_all");
}

// sqlpool::connection as a session

BOOST_AUTO_TEST_CASE(a_connection_classifies_sqlite_result_codes) {
    namespace rc = sqlpool::result_code;
    using sqlpool::connection;
    using enum sqlpool::error_action;
    BOOST_TEST((connection::classify(rc::busy) == retry));
    BOOST_TEST((connection::classify(rc::locked) == retry));
    BOOST_TEST((connection::classify(rc::busy_snapshot) == retry));
    BOOST_TEST((connection::classify(rc::readonly_dbmoved) == reconnect_all));
    for (const int code : {rc::corrupt, rc::notadb, rc::ioerr_read, rc::full, rc::nomem})
        BOOST_TEST((connection::classify(code) == retire), "code " << code);
    BOOST_TEST((connection::classify(rc::constraint) == fail));
}

BOOST_AUTO_TEST_CASE(a_connection_says_what_its_reset_did) {
    sqlpool_test::temp_dir dir{"session"};
    sqlpool::connection conn(dir.file("s.db"));
    using enum sqlpool::reset_verdict;
    conn.exec("CREATE TABLE t(v INTEGER)");
    BOOST_TEST((conn.reset_for_reuse() == clean)); // a statement ran, but left nothing to undo
    BOOST_TEST((conn.reset_for_reuse() == clean)); // nothing ran since
    conn.exec("BEGIN");
    conn.exec("INSERT INTO t VALUES(1)");
    BOOST_TEST((conn.reset_for_reuse() == restored));
    BOOST_TEST(!conn.in_transaction());
    BOOST_TEST(conn.query_value<std::int64_t>("SELECT count(*) FROM t") == 0);
    conn.exec("PRAGMA foreign_keys = OFF");
    BOOST_TEST((conn.reset_for_reuse() == restored));
    BOOST_TEST(conn.query_value<std::int64_t>("PRAGMA foreign_keys") == 1);
    conn.exec("CREATE TEMP TABLE scratch(v)");
    BOOST_TEST((conn.reset_for_reuse() == retire)); // a temporary table the reset cannot undo
}

BOOST_AUTO_TEST_CASE(a_broken_connection_retires_itself) {
    sqlpool::connection conn(":memory:");
    conn.mark_broken(sqlpool::result_code::corrupt);
    BOOST_TEST((conn.reset_for_reuse() == sqlpool::reset_verdict::retire));
    BOOST_TEST(!conn.ping());
}

BOOST_AUTO_TEST_CASE(a_connection_pings_and_names_its_file) {
    sqlpool_test::temp_dir dir{"session"};
    sqlpool::connection conn(dir.file("p.db"));
    BOOST_TEST(conn.ping());
    BOOST_TEST(conn.identity().known());
    conn.exec("BEGIN");
    BOOST_TEST(!conn.ping()); // a transaction left open
    BOOST_TEST(!sqlpool::connection(":memory:").identity().known());
}

// A pool over fake sessions

BOOST_AUTO_TEST_CASE(sessions_open_with_the_isolation_policy_default_and_restored_ones_are_counted) {
    fake_server& server = server_named("restored");
    fake_pool pool{fake_config("restored", 1, 1)};
    {
        auto lease = pool.acquire();
        BOOST_TEST(lease->get().level == fake_isolation::default_level);
        lease->get().dirty = true;
    }
    {
        auto lease = pool.acquire(); // nothing left to undo
    }
    BOOST_TEST(pool.stats().resets == 1u);
    BOOST_TEST(pool.stats().closed.total() == 0u);
    BOOST_TEST(server.opened == 1);
}

BOOST_AUTO_TEST_CASE(maintenance_tends_a_used_session_once_per_idle_stretch) {
    fake_server& server = server_named("tended");
    auto config = fake_config("tended", 2, 2);
    config.idle_upkeep_after = 60s;
    fake_pool pool{config};
    const auto t0 = std::chrono::steady_clock::now();
    fake_session::state* used = nullptr;
    {
        auto lease = pool.acquire();
        used = &lease->get();
    }
    pool.maintain(t0 + 30s); // idle, not yet for long
    BOOST_TEST(used->upkeeps == 0);
    pool.maintain(t0 + 120s);
    BOOST_TEST(used->upkeeps == 1);
    pool.maintain(t0 + 240s); // not used since
    BOOST_TEST(used->upkeeps == 1);
    BOOST_TEST(server.closed == 0); // `used` is still the session's
    auto a = pool.acquire();
    auto b = pool.acquire();
    BOOST_TEST(a->get().upkeeps + b->get().upkeeps == 1); // the session never used was never tended
}

// A deadline reaches the session through set_deadline(), whatever the database; the reset on
// return ends it.
BOOST_AUTO_TEST_CASE(an_acquire_with_a_deadline_hands_it_to_the_session_until_its_return) {
    fake_pool pool{fake_config("deadline", 1, 1)};
    fake_session::state* used = nullptr;
    {
        auto lease = pool.acquire(sqlpool::deadline{1h});
        used = &lease->get();
        BOOST_TEST(used->limited);
    }
    BOOST_TEST(!used->limited);
    BOOST_TEST(!pool.acquire()->get().limited);
}

// The core reaches the board only through attach(): each session gets its slot's, and close()
// orders an interrupt there when a lease outlives its timeout while the session shows a statement.
BOOST_AUTO_TEST_CASE(each_session_is_attached_to_its_slots_board_and_close_orders_through_it) {
    fake_pool pool{fake_config("boards", 2, 2)};
    auto first = pool.acquire();
    auto second = pool.acquire();
    sqlpool::session_board* board = first->get().board;
    BOOST_TEST_REQUIRE(board != nullptr);
    BOOST_TEST(second->get().board != nullptr);
    BOOST_TEST(second->get().board != board);
    board->show("a long statement"); // what the session would show from its progress handler
    const auto connections = pool.connections();
    BOOST_TEST(
        std::ranges::count_if(connections, [](const auto& c) { return c.sql == "a long statement"; }) == 1);
    const sqlpool::close_report report = pool.close(std::chrono::milliseconds(1));
    BOOST_TEST(report.interrupted == 1u);
    BOOST_TEST(board->interrupting());
    BOOST_TEST(report.stragglers.size() == 2u);
}

BOOST_AUTO_TEST_CASE(idle_upkeep_after_zero_never_tends) {
    (void)server_named("untended");
    auto config = fake_config("untended", 1, 1);
    config.idle_upkeep_after = 0s;
    fake_pool pool{config};
    fake_session::state* used = nullptr;
    {
        auto lease = pool.acquire();
        used = &lease->get();
    }
    pool.maintain(std::chrono::steady_clock::now() + 20min); // under connection_max_age: still open
    BOOST_TEST(used->upkeeps == 0);
}

BOOST_AUTO_TEST_CASE(a_session_that_retires_itself_is_closed_and_replaced) {
    fake_server& server = server_named("retires");
    fake_pool pool{fake_config("retires", 1, 1)};
    std::uint64_t first = 0;
    {
        auto lease = pool.acquire();
        first = lease.info().id;
        lease->get().broken = lost_code;
    }
    BOOST_TEST(server.closed == 1);
    BOOST_TEST(pool.stats().closed.broken == 1u);
    BOOST_TEST(pool.stats().resets == 0u); // retired, not restored
    auto lease = pool.acquire();
    BOOST_TEST(lease.info().id != first);
    BOOST_TEST(server.opened == 2);
}

BOOST_AUTO_TEST_CASE(an_error_that_calls_for_reconnect_all_closes_the_idle_sessions_too) {
    fake_server& server = server_named("reconnect");
    fake_pool pool{fake_config("reconnect", 3, 3)};
    {
        auto lease = pool.acquire();
        lease->get().broken = moved_code;
    }
    BOOST_TEST(server.closed == 3); // the one returned, and the two idle ones
    BOOST_TEST(pool.stats().total == 0u);
    auto lease = pool.acquire();
    BOOST_TEST(server.opened == 4);
}

BOOST_AUTO_TEST_CASE(no_session_opens_on_a_replaced_database_while_one_to_the_old_is_leased) {
    fake_server& server = server_named("replaced");
    fake_pool pool{fake_config("replaced", 1, 2)};
    auto old = pool.acquire();
    server.identity = 2; // the database was replaced under the pool
    BOOST_CHECK_THROW((void)pool.acquire(), sqlpool::database_moved_error);
    BOOST_TEST(server.opened == 1);
    old.release(); // its generation ended: it closes instead of going idle
    BOOST_TEST(server.closed == 1);
    auto fresh = pool.acquire();
    BOOST_TEST(fresh->identity().object == 2u);
    BOOST_TEST(pool.stats().total == 1u);
}

BOOST_AUTO_TEST_CASE(threads_get_exclusive_use_of_fake_sessions) {
    fake_server& server = server_named("threads");
    constexpr int threads = 8;
    constexpr int rounds = 2000;
    fake_pool pool{fake_config("threads", 0, 3)};
    std::atomic<int> shared_use{0};
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; ++t)
        workers.emplace_back([&] {
            for (int r = 0; r < rounds; ++r) {
                auto lease = pool.acquire(std::chrono::seconds(30));
                auto& state = lease->get();
                if (state.users.fetch_add(1) != 0) shared_use.fetch_add(1);
                std::this_thread::yield();
                state.dirty = (r % 3) == 0;
                state.users.fetch_sub(1);
            }
        });
    for (auto& worker : workers) worker.join();
    BOOST_TEST(shared_use == 0);
    const sqlpool::pool_stats stats = pool.stats();
    BOOST_TEST(stats.acquired == std::uint64_t{threads} * rounds);
    BOOST_TEST(stats.total <= 3u);
    BOOST_TEST(server.opened - server.closed == static_cast<int>(stats.total));
    BOOST_TEST(stats.resets > 0u);
}
