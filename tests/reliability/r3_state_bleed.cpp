// R3 state bleed: a fifth of the borrowers misbehave (leave BEGIN or a savepoint open, leave a
// statement mid-step, change a setting with PRAGMA, throw mid-transaction); every borrower checks
// what it was handed: autocommit, no busy statement, the configured settings.
#include <boost/test/unit_test.hpp>

#include <sqlite3.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "reliability/reliability.hpp"
#include "support/scratch_dir.hpp"

import sqlpool;

using namespace std::chrono_literals;
namespace rel = sqlpool_reliability;

namespace {

// Statements a borrower prepared through the raw handle, stepped once and abandoned. The pool
// resets them on return; the test finalizes them later, when it holds that connection again (or
// at the end), so that nothing leaks.
class abandoned_statements {
public:
    void add(sqlite3* db, sqlite3_stmt* stmt) {
        std::lock_guard lock(mutex_);
        list_.emplace_back(db, stmt);
    }
    // Finalizes those of `db`; the caller holds that connection.
    void finalize_for(sqlite3* db) {
        std::vector<sqlite3_stmt*> mine;
        {
            std::lock_guard lock(mutex_);
            for (auto it = list_.begin(); it != list_.end();) {
                if (it->first == db) {
                    mine.push_back(it->second);
                    it = list_.erase(it);
                } else {
                    ++it;
                }
            }
        }
        for (auto* stmt : mine) sqlite3_finalize(stmt);
    }
    void finalize_all() {
        std::lock_guard lock(mutex_);
        for (auto& [db, stmt] : list_) sqlite3_finalize(stmt);
        list_.clear();
    }

private:
    std::mutex mutex_;
    std::vector<std::pair<sqlite3*, sqlite3_stmt*>> list_;
};

// A borrower's misdeeds.
enum misdeed : unsigned {
    open_begin,       // BEGIN, an insert, and away
    open_savepoint,   // SAVEPOINT, an insert, and away
    statement_midway, // a statement stepped once and not reset
    change_pragma,    // a configured setting changed with PRAGMA
    throw_in_tx,      // an exception in the middle of a transaction
    all_at_once,      // BEGIN, a PRAGMA inside it, a statement mid-step, and an exception
    misdeed_kinds
};
constexpr std::array<const char*, misdeed_kinds> misdeed_names{
    "open_begin", "open_savepoint", "statement_midway", "change_pragma", "throw_in_tx", "all_at_once"};

// Ways to change one of the settings the pool configures, in different spellings and routes.
constexpr std::array<const char*, 14> pragma_changes{
    "PRAGMA foreign_keys=OFF",     "pragma Foreign_Keys = 0",      "PRAGMA cache_size=77",
    "PRAGMA main.cache_size = 11", "PRAGMA temp_store=FILE",       "PRAGMA temp_store=1",
    "PRAGMA synchronous=OFF",      "PRAGMA synchronous=FULL",      "PRAGMA busy_timeout=1",
    "PRAGMA journal_mode=DELETE",  "PRAGMA journal_mode=TRUNCATE", "SELECT 1; PRAGMA foreign_keys=OFF",
    "PRAGMA cache_size(-5)",       "PRAGMA synchronous=EXTRA"};

struct expected_settings {
    std::string journal_mode = "wal";
    std::int64_t synchronous = 1; // NORMAL
    std::int64_t foreign_keys = 1;
    std::int64_t busy_timeout = 1500;
    std::int64_t cache_size = -3000;
    std::int64_t temp_store = 2; // MEMORY
};

struct bleed_counts {
    std::atomic<std::uint64_t> checkouts{0}, in_transaction{0}, busy_statements{0};
    std::array<std::atomic<std::uint64_t>, 6> settings{}; // one per expected_settings field
    std::array<std::atomic<std::uint64_t>, misdeed_kinds> misdeeds{};
    std::array<std::atomic<std::uint64_t>, misdeed_kinds> bleed_after{}; // by the previous misdeed
    std::atomic<std::uint64_t> good_commits{0}, misdeed_errors{0}, check_errors{0};
};
constexpr std::array<const char*, 6> setting_names{"journal_mode", "synchronous", "foreign_keys",
                                                   "busy_timeout", "cache_size",  "temp_store"};

// What the borrower finds; true when everything is as configured.
bool inspect(sqlpool::connection& conn, const expected_settings& want, bleed_counts& counts) {
    bool clean = true;
    if (conn.in_transaction()) {
        counts.in_transaction.fetch_add(1);
        clean = false;
    }
    if (conn.busy_statement_count() != 0) {
        counts.busy_statements.fetch_add(1);
        clean = false;
    }
    const std::array<bool, 6> ok{
        conn.query_value<std::string>("PRAGMA journal_mode") == want.journal_mode,
        conn.query_value<std::int64_t>("PRAGMA synchronous") == want.synchronous,
        conn.query_value<std::int64_t>("PRAGMA foreign_keys") == want.foreign_keys,
        conn.query_value<std::int64_t>("PRAGMA busy_timeout") == want.busy_timeout,
        conn.query_value<std::int64_t>("PRAGMA cache_size") == want.cache_size,
        conn.query_value<std::int64_t>("PRAGMA temp_store") == want.temp_store,
    };
    for (std::size_t i = 0; i < ok.size(); ++i)
        if (!ok[i]) {
            counts.settings[i].fetch_add(1);
            clean = false;
        }
    return clean;
}

void abandon_statement(sqlpool::connection& conn, abandoned_statements& abandoned) {
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(conn.native_handle(), "SELECT v FROM series ORDER BY v", -1, &stmt, nullptr) !=
        SQLITE_OK)
        throw std::runtime_error("prepare failed");
    abandoned.add(conn.native_handle(), stmt);
    if (sqlite3_step(stmt) != SQLITE_ROW) throw std::runtime_error("step gave no row");
}

} // namespace

BOOST_AUTO_TEST_SUITE(r3_state_bleed)

BOOST_AUTO_TEST_CASE(next_borrower_always_starts_clean) {
    const std::size_t threads = 4;
    const std::uint64_t checkouts = rel::scaled(100'000);
    const expected_settings want;

    sqlpool_test::scratch_dir dir{"r3"};
    const std::string path = dir.file("r3.db");
    {
        sqlpool::connection setup(path);
        setup.exec("CREATE TABLE log(id INTEGER PRIMARY KEY, good INTEGER NOT NULL);"
                   "CREATE TABLE series(v INTEGER); INSERT INTO series VALUES (1), (2), (3)");
    }
    // Four threads share three connections, so a connection moves between threads all the time.
    sqlpool::pool pool{sqlpool::pool_config{.database = path,
                                            .busy_timeout = 1500ms,
                                            .pragmas = {{"cache_size", "-3000"}, {"temp_store", "2"}},
                                            .min_connections = 3,
                                            .max_connections = 3,
                                            .acquire_timeout = 60s,
                                            .transaction_timeout = 30s,
                                            .background_maintenance = false}};

    bleed_counts counts;
    abandoned_statements abandoned;
    std::mutex last_mutex;
    std::map<std::uint64_t, unsigned> last_misdeed; // connection id -> its last borrower's misdeed
    std::atomic<std::uint64_t> next{0};

    rel::watchdog guard("R3 state bleed",
                        [&] { return "checkouts=" + std::to_string(counts.checkouts.load()); });

    std::vector<std::thread> workers;
    for (std::size_t t = 0; t < threads; ++t) {
        workers.emplace_back([&, t] {
            std::mt19937_64 rng(rel::seed() + 3000 + t);
            while (next.fetch_add(1) < checkouts) {
                const bool misbehave = rng() % 5 == 0;
                const auto kind = static_cast<unsigned>(rng() % misdeed_kinds);
                try {
                    sqlpool::lease lease = pool.acquire();
                    counts.checkouts.fetch_add(1);
                    const std::uint64_t id = lease.info().id;
                    bool clean = true;
                    try {
                        clean = inspect(*lease, want, counts);
                    } catch (const sqlpool::error&) {
                        counts.check_errors.fetch_add(1);
                        clean = false;
                    }
                    {
                        std::lock_guard lock(last_mutex);
                        if (!clean && last_misdeed.contains(id))
                            counts.bleed_after[last_misdeed[id]].fetch_add(1);
                        if (misbehave)
                            last_misdeed[id] = kind;
                        else
                            last_misdeed.erase(id);
                    }
                    abandoned.finalize_for(lease->native_handle()); // after the inspection
                    if (!misbehave) {
                        auto tx = lease->begin(sqlpool::isolation_level::immediate);
                        lease->exec("INSERT INTO log(good) VALUES (1)");
                        tx.commit();
                        counts.good_commits.fetch_add(1);
                        continue;
                    }
                    counts.misdeeds[kind].fetch_add(1);
                    switch (kind) {
                    case open_begin:
                        lease->exec("BEGIN");
                        lease->exec("INSERT INTO log(good) VALUES (0)");
                        break;
                    case open_savepoint:
                        lease->exec("SAVEPOINT borrowed");
                        lease->exec("INSERT INTO log(good) VALUES (0)");
                        break;
                    case statement_midway:
                        abandon_statement(*lease, abandoned);
                        break;
                    case change_pragma: {
                        const char* sql = pragma_changes[rng() % pragma_changes.size()];
                        if (rng() % 2 == 0) {
                            lease->exec(sql);
                        } else { // straight through the C API: the pool must notice all the same
                            char* message = nullptr;
                            sqlite3_exec(lease->native_handle(), sql, nullptr, nullptr, &message);
                            sqlite3_free(message);
                        }
                        break;
                    }
                    case throw_in_tx:
                        if (rng() % 2 == 0) {
                            lease->exec("BEGIN IMMEDIATE");
                            lease->exec("INSERT INTO log(good) VALUES (0)");
                            throw std::runtime_error("borrower failed mid-transaction");
                        } else {
                            lease.release();
                            pool.write([](sqlpool::connection& conn) {
                                conn.exec("INSERT INTO log(good) VALUES (0)");
                                throw std::runtime_error("transaction body failed");
                            });
                        }
                        break;
                    case all_at_once:
                        lease->exec("BEGIN");
                        lease->exec("PRAGMA cache_size=5");
                        lease->exec("INSERT INTO log(good) VALUES (0)");
                        abandon_statement(*lease, abandoned);
                        throw std::runtime_error("borrower failed with everything open");
                    default:
                        break;
                    }
                } catch (const std::runtime_error&) {
                    // sqlpool errors are runtime_errors too; a misdeed may also fail on its own
                    // (journal_mode=DELETE while others have the file open, say).
                    counts.misdeed_errors.fetch_add(1);
                }
            }
        });
    }
    for (auto& w : workers) w.join();

    const auto s = pool.stats();
    std::int64_t good_rows = 0, bad_rows = 0;
    std::string integrity;
    {
        sqlpool::lease lease = pool.acquire();
        good_rows = lease->query_value<std::int64_t>("SELECT count(*) FROM log WHERE good = 1");
        bad_rows = lease->query_value<std::int64_t>("SELECT count(*) FROM log WHERE good = 0");
        integrity = lease->query_value<std::string>("PRAGMA integrity_check");
    }
    pool.close();
    abandoned.finalize_all();

    std::string misdeeds, bleeds, settings;
    std::uint64_t misdeed_total = 0;
    for (std::size_t i = 0; i < misdeed_kinds; ++i) {
        misdeeds += std::string(misdeeds.empty() ? "" : ",") + misdeed_names[i] + ":" +
                    std::to_string(counts.misdeeds[i].load());
        bleeds += std::string(bleeds.empty() ? "" : ",") + misdeed_names[i] + ":" +
                  std::to_string(counts.bleed_after[i].load());
        misdeed_total += counts.misdeeds[i].load();
    }
    for (std::size_t i = 0; i < setting_names.size(); ++i) {
        settings += std::string(settings.empty() ? "" : ",") + setting_names[i] + ":" +
                    std::to_string(counts.settings[i].load());
    }
    rel::figures("R3", "checkouts=" + std::to_string(counts.checkouts.load()) +
                           " misdeeds=" + std::to_string(misdeed_total) + "{" + misdeeds +
                           "} good_commits=" + std::to_string(counts.good_commits.load()) +
                           " seen_in_transaction=" + std::to_string(counts.in_transaction.load()) +
                           " seen_busy_statements=" + std::to_string(counts.busy_statements.load()) +
                           " seen_wrong_settings{" + settings + "} bleed_after{" + bleeds +
                           "} check_errors=" + std::to_string(counts.check_errors.load()) +
                           " misdeeds_that_threw=" + std::to_string(counts.misdeed_errors.load()) +
                           " resets=" + std::to_string(s.resets) +
                           " retired_broken=" + std::to_string(s.closed.broken) + " integrity=" + integrity);

    BOOST_TEST(counts.checkouts.load() >= checkouts);
    BOOST_TEST(counts.in_transaction.load() == 0u);
    BOOST_TEST(counts.busy_statements.load() == 0u);
    for (std::size_t i = 0; i < setting_names.size(); ++i)
        BOOST_TEST(counts.settings[i].load() == 0u, "borrowers found " << setting_names[i] << " changed "
                                                                       << counts.settings[i].load()
                                                                       << " time(s)");
    BOOST_TEST(counts.check_errors.load() == 0u);
    for (std::size_t i = 0; i < misdeed_kinds; ++i) BOOST_TEST(counts.misdeeds[i].load() > 0u);
    BOOST_TEST(good_rows == static_cast<std::int64_t>(counts.good_commits.load()));
    BOOST_TEST(bad_rows == 0);
    BOOST_TEST(integrity == "ok");
    BOOST_TEST(s.resets > 0u);
    BOOST_TEST(s.in_use == 0u);
    BOOST_TEST(s.idle == s.total);
}

BOOST_AUTO_TEST_SUITE_END()

// Beyond the configured settings: session state a borrower can leave behind that the pool does
// not know it configured. Each probe changes one thing on the pool's only connection, returns it,
// and checks the next lease of that same connection against what a fresh connection shows.
BOOST_AUTO_TEST_SUITE(r3_unconfigured_state)

namespace {

struct probe {
    const char* name;
    const char* change; // what the misbehaving borrower runs
    const char* read;   // a query for one integer or text value describing the state
};

// Readable per-connection settings a PRAGMA changes (https://sqlite.org/pragma.html), plus
// temporary schema and attached databases.
constexpr std::array<probe, 21> probes{{
    {"query_only", "PRAGMA query_only=1", "PRAGMA query_only"},
    {"trusted_schema", "PRAGMA trusted_schema=1", "PRAGMA trusted_schema"},
    {"ignore_check_constraints", "PRAGMA ignore_check_constraints=1", "PRAGMA ignore_check_constraints"},
    {"recursive_triggers", "PRAGMA recursive_triggers=1", "PRAGMA recursive_triggers"},
    {"reverse_unordered_selects", "PRAGMA reverse_unordered_selects=1", "PRAGMA reverse_unordered_selects"},
    {"automatic_index", "PRAGMA automatic_index=0", "PRAGMA automatic_index"},
    {"cell_size_check", "PRAGMA cell_size_check=1", "PRAGMA cell_size_check"},
    {"secure_delete", "PRAGMA secure_delete=1", "PRAGMA secure_delete"},
    {"wal_autocheckpoint", "PRAGMA wal_autocheckpoint=0", "PRAGMA wal_autocheckpoint"},
    {"locking_mode", "PRAGMA locking_mode=EXCLUSIVE", "PRAGMA locking_mode"},
    {"read_uncommitted", "PRAGMA read_uncommitted=1", "PRAGMA read_uncommitted"},
    {"cache_spill", "PRAGMA cache_spill=0", "PRAGMA cache_spill"},
    {"legacy_alter_table", "PRAGMA legacy_alter_table=1", "PRAGMA legacy_alter_table"},
    {"mmap_size", "PRAGMA mmap_size=65536", "PRAGMA mmap_size"},
    {"temp_table", "CREATE TEMP TABLE leftover(x); INSERT INTO leftover VALUES (1)",
     "SELECT count(*) FROM temp.sqlite_schema"},
    {"temp_table_qualified", "CREATE TABLE temp.leftover(x)", "SELECT count(*) FROM temp.sqlite_schema"},
    {"temp_view_qualified", "CREATE VIEW temp.leftover AS SELECT 1 AS x",
     "SELECT count(*) FROM temp.sqlite_schema"},
    {"temp_table_as_select", "CREATE TABLE temp.leftover AS SELECT 1 AS x",
     "SELECT count(*) FROM temp.sqlite_schema"},
    {"temp_trigger_on_main", "CREATE TRIGGER temp.leftover AFTER INSERT ON main.items BEGIN SELECT 1; END",
     "SELECT count(*) FROM temp.sqlite_schema"},
    {"temp_index_qualified",
     "CREATE TEMP TABLE t2(x); DROP TABLE t2; CREATE TABLE temp.t3(x); CREATE INDEX temp.i3 ON t3(x)",
     "SELECT count(*) FROM temp.sqlite_schema"},
    {"attached_database", "ATTACH DATABASE ':memory:' AS leftover",
     "SELECT count(*) FROM pragma_database_list WHERE name NOT IN ('main', 'temp')"},
}};

std::string read_state(sqlpool::connection& conn, const char* sql) {
    auto stmt = conn.prepare(sql);
    if (!stmt.step()) return "(no row)";
    const unsigned char* text = sqlite3_column_text(stmt.native_handle(), 0); // any type, as text
    return text == nullptr ? std::string("NULL") : std::string(reinterpret_cast<const char*>(text));
}

} // namespace

// Session state the pool cannot restore (a setting it did not configure, temporary schema, an
// attached database) must not reach the next borrower: the pool retires such a connection.
BOOST_AUTO_TEST_CASE(next_borrower_sees_a_fresh_session) {
    sqlpool_test::scratch_dir dir{"r3u"};
    rel::watchdog guard("R3 unconfigured state");
    std::string bled;
    std::uint64_t bleeding = 0;
    for (const auto& p : probes) {
        // A pool of one connection per probe, so that one probe's leftovers do not meet the next.
        sqlpool::pool pool{sqlpool::pool_config{.database = dir.file(std::string(p.name) + ".db"),
                                                .min_connections = 1,
                                                .max_connections = 1,
                                                .background_maintenance = false}};
        pool.acquire()->exec("CREATE TABLE items(id INTEGER PRIMARY KEY)");
        std::string before, after;
        std::uint64_t id_before = 0, id_after = 0;
        {
            sqlpool::lease lease = pool.acquire();
            id_before = lease.info().id;
            before = read_state(*lease, p.read);
            lease->exec(p.change);
        }
        {
            sqlpool::lease lease = pool.acquire();
            id_after = lease.info().id;
            after = read_state(*lease, p.read);
        }
        if (id_before != id_after) continue; // retired and replaced: a fresh session, no bleed
        if (after != before) {
            ++bleeding;
            bled += std::string(bled.empty() ? "" : ",") + p.name + ":" + before + "->" + after;
        }
        BOOST_TEST(after == before, p.name << " bled into the next lease: " << before << " -> " << after);
    }
    rel::figures("R3u", "probes=" + std::to_string(probes.size()) + " bleeding=" + std::to_string(bleeding) +
                            " {" + bled + "}");
}

// A temporary trigger on a main table, created by one borrower, must never run for the next: in
// the case that found it, it deleted the next borrower's committed rows.
BOOST_AUTO_TEST_CASE(a_borrowers_temp_trigger_never_touches_the_next_borrowers_rows) {
    sqlpool_test::scratch_dir dir{"r3t"};
    const std::string path = dir.file("trigger.db");
    rel::watchdog guard("R3 temp trigger");
    sqlpool::pool pool{sqlpool::pool_config{
        .database = path, .min_connections = 1, .max_connections = 1, .background_maintenance = false}};
    pool.acquire()->exec("CREATE TABLE items(id INTEGER PRIMARY KEY, v TEXT)");
    const std::array<const char*, 3> spellings{
        "CREATE TRIGGER temp.wipe AFTER INSERT ON main.items BEGIN DELETE FROM items; END",
        "CREATE TEMP TRIGGER wipe AFTER INSERT ON items BEGIN DELETE FROM items; END",
        "CREATE TEMPORARY TRIGGER IF NOT EXISTS wipe AFTER INSERT ON main.items BEGIN DELETE FROM items; "
        "END"};
    std::int64_t committed = 0;
    for (const char* trigger : spellings) {
        pool.acquire()->exec(trigger); // the borrower leaves it behind
        pool.write([&](sqlpool::connection& c) { c.exec("INSERT INTO items(v) VALUES ('kept')"); });
        ++committed;
    }
    sqlpool::connection fresh(path);
    BOOST_TEST(fresh.query_value<std::int64_t>("SELECT count(*) FROM items") == committed);
    BOOST_TEST(pool.acquire()->query_value<std::int64_t>("SELECT count(*) FROM temp.sqlite_schema") == 0);
}

// set_default_isolation() on a lease lasts for that lease only.
BOOST_AUTO_TEST_CASE(default_isolation_does_not_outlive_the_lease) {
    sqlpool_test::scratch_dir dir{"r3i"};
    const std::string path = dir.file("isolation.db");
    sqlpool::pool pool{sqlpool::pool_config{
        .database = path, .min_connections = 1, .max_connections = 1, .background_maintenance = false}};
    std::uint64_t id = 0;
    {
        auto lease = pool.acquire();
        id = lease.info().id;
        lease->set_default_isolation(sqlpool::isolation_level::exclusive);
    }
    auto lease = pool.acquire();
    BOOST_TEST(lease.info().id == id); // the same connection, kept
    BOOST_TEST(sqlpool::to_string(lease->default_isolation()) == std::string("deferred"));
    auto tx = lease->begin();
    BOOST_TEST(sqlpool::to_string(tx.level()) == std::string("deferred"));
    // A deferred transaction that only read leaves room for a writer on another connection.
    (void)lease->query_value<std::int64_t>("SELECT count(*) FROM sqlite_schema");
    sqlpool::connection other(
        sqlpool::open_options{.path = path, .busy_timeout = std::chrono::milliseconds(0)});
    BOOST_CHECK_NO_THROW(other.exec("CREATE TABLE IF NOT EXISTS t(x)"));
    tx.commit();
}

BOOST_AUTO_TEST_SUITE_END()
