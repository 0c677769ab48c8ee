// connection: queries (their ranges are in query_range_test), exec() scripts, how SQLite errors are mapped to
// exceptions, a connection's lifecycle (moves, transactions, interrupts) and how it tracks its statements.
#define BOOST_TEST_MODULE connection
#include <boost/test/unit_test.hpp>

#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <fstream>
#include <iterator>
#include <optional>
#include <ranges>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include <range/v3/view/filter.hpp>
#include <range/v3/view/generate_n.hpp>
#include <range/v3/view/iota.hpp>
#include <range/v3/view/transform.hpp>

#include "support/sqlite_helpers.hpp"

import sqlpool;

using namespace std::chrono_literals;

namespace {

using sqlpool_test::contains;
using sqlpool_test::count;
using sqlpool_test::endless;
using sqlpool_test::file_db;
using sqlpool_test::misuse_message;
using sqlpool_test::temp_dir;
using sqlpool_test::thrown;

} // namespace

// ---------------------------------------------------------------------------------------------------
namespace {
struct numbers : file_db {
    numbers() {
        conn.exec("CREATE TABLE n(v INTEGER, name TEXT)");
        for (int i = 1; i <= 10; ++i) conn.exec("INSERT INTO n VALUES(?, ?)", i, "n" + std::to_string(i));
    }
};
} // namespace

BOOST_FIXTURE_TEST_SUITE(queries, numbers)

BOOST_AUTO_TEST_CASE(query_one_returns_the_first_row_or_nothing) {
    BOOST_TEST(!conn.query_one<std::int64_t>("SELECT v FROM n WHERE v > ?", 100).has_value());
    const auto row =
        conn.query_one<std::int64_t, std::string>("SELECT v, name FROM n WHERE v >= ? ORDER BY v", 4);
    BOOST_REQUIRE(row.has_value());
    BOOST_TEST(std::get<0>(*row) == 4);
    BOOST_TEST(std::get<1>(*row) == "n4");
    BOOST_TEST(conn.busy_statement_count() == 0u);
}

BOOST_AUTO_TEST_CASE(query_value_needs_a_row) {
    BOOST_TEST(conn.query_value<std::int64_t>("SELECT count(*) FROM n") == 10);
    BOOST_TEST(conn.query_value<std::string>("SELECT name FROM n WHERE v = ?", 7) == "n7");
    const auto e =
        thrown<sqlpool::error>([&] { (void)conn.query_value<std::int64_t>("SELECT v FROM n WHERE 0"); });
    BOOST_REQUIRE(e.has_value());
    BOOST_TEST(contains(e->what(), "SELECT v FROM n WHERE 0"), e->what());
    BOOST_TEST(!conn.query_value<std::optional<std::int64_t>>("SELECT max(v) FROM n WHERE 0").has_value());
}

BOOST_AUTO_TEST_CASE(exec_runs_scripts) {
    conn.exec("CREATE TABLE a(v); CREATE TABLE b(v);\n"
              "-- a comment\n INSERT INTO a VALUES(1); /* block */ INSERT INTO b SELECT v FROM a;\n"
              "SELECT * FROM a;;");
    BOOST_TEST(conn.query_value<std::int64_t>("SELECT (SELECT v FROM a) + (SELECT v FROM b)") == 2);
    conn.exec("");
    conn.exec("  -- nothing but a comment");
    BOOST_TEST(conn.query_value<std::int64_t>("SELECT count(*) FROM a") == 1);
    // A statement with rows runs to completion.
    conn.exec("UPDATE a SET v = v + 1 RETURNING v");
    BOOST_TEST(conn.query_value<std::int64_t>("SELECT v FROM a") == 2);
}

BOOST_AUTO_TEST_CASE(exec_with_arguments_takes_one_statement) {
    conn.exec("CREATE TABLE a(v)");
    const auto what =
        misuse_message([&] { conn.exec("INSERT INTO a VALUES(?); INSERT INTO a VALUES(?)", 1, 2); });
    BOOST_TEST(contains(what, "one statement"), what);
    BOOST_CHECK_THROW(conn.exec("-- nothing", 1), sqlpool::misuse_error);
    BOOST_TEST(count(conn, "a") == 0);
    conn.exec("INSERT INTO a VALUES(?); -- trailing comment", 3);
    BOOST_TEST(conn.query_value<std::int64_t>("SELECT v FROM a") == 3);
}

BOOST_AUTO_TEST_CASE(a_script_stops_at_its_first_error) {
    conn.exec("CREATE TABLE a(v UNIQUE)");
    const auto e = thrown<sqlpool::sqlite_error>(
        [&] { conn.exec("INSERT INTO a VALUES(1); INSERT INTO a VALUES(1); INSERT INTO a VALUES(2);"); });
    BOOST_REQUIRE(e.has_value());
    BOOST_TEST(e->extended_code() == sqlpool::result_code::constraint_unique);
    BOOST_TEST(contains(e->sql(), "INSERT INTO a VALUES(1)"), e->sql());
    BOOST_TEST(count(conn, "a") == 1); // autocommit: the first insert stays, the third never ran
    const auto syntax =
        thrown<sqlpool::sqlite_error>([&] { conn.exec("INSERT INTO a VALUES(5); SELEKT 1;"); });
    BOOST_REQUIRE(syntax.has_value());
    BOOST_TEST(contains(syntax->what(), "SELEKT 1"), syntax->what());
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------------------------------------------
BOOST_FIXTURE_TEST_SUITE(error_mapping, file_db)

BOOST_AUTO_TEST_CASE(a_syntax_error_carries_the_sql) {
    const auto e = thrown<sqlpool::sqlite_error>([&] { conn.exec("SELEKT 1"); });
    BOOST_REQUIRE(e.has_value());
    BOOST_TEST(e->code() == sqlpool::result_code::error);
    BOOST_TEST(e->sql() == "SELEKT 1");
    BOOST_TEST(contains(e->sqlite_message(), "syntax error"), e->sqlite_message());
    BOOST_TEST(contains(e->what(), "SELEKT 1"), e->what());
    BOOST_TEST(contains(e->what(), "syntax error"), e->what());
    const auto from_prepare =
        thrown<sqlpool::sqlite_error>([&] { (void)conn.prepare("SELECT * FROM nowhere"); });
    BOOST_REQUIRE(from_prepare.has_value());
    BOOST_TEST(contains(from_prepare->sqlite_message(), "no such table"), from_prepare->sqlite_message());
    BOOST_TEST(from_prepare->sql() == "SELECT * FROM nowhere");
    BOOST_CHECK_THROW((void)conn.query<std::int64_t>("SELECT nope"), sqlpool::sqlite_error);
}

BOOST_AUTO_TEST_CASE(constraint_violations_carry_extended_codes) {
    conn.exec("CREATE TABLE p(id INTEGER PRIMARY KEY, u TEXT UNIQUE, nn TEXT NOT NULL DEFAULT 'x',"
              "  c INTEGER CHECK (c >= 0));"
              "CREATE TABLE k(pid INTEGER REFERENCES p(id));"
              "INSERT INTO p(id, u) VALUES(1, 'a');");
    const auto failing = [&](const char* sql) {
        return thrown<sqlpool::sqlite_error>([&] { conn.exec(sql); });
    };
    const std::vector<std::pair<const char*, int>> cases = {
        {"INSERT INTO p(id, u) VALUES(2, 'a')", sqlpool::result_code::constraint_unique},
        {"INSERT INTO p(id, u) VALUES(1, 'b')", sqlpool::result_code::constraint_primarykey},
        {"INSERT INTO p(id, u, nn) VALUES(3, 'c', NULL)", sqlpool::result_code::constraint_notnull},
        {"INSERT INTO p(id, u, c) VALUES(4, 'd', -1)", sqlpool::result_code::constraint_check},
        {"INSERT INTO k VALUES(99)", sqlpool::result_code::constraint_foreignkey},
    };
    for (const auto& [sql, expected] : cases) {
        const auto e = failing(sql);
        BOOST_REQUIRE_MESSAGE(e.has_value(), sql);
        BOOST_TEST(e->code() == sqlpool::result_code::constraint, sql);
        BOOST_TEST(e->extended_code() == expected, sql);
        BOOST_TEST(e->sql() == sql);
        BOOST_TEST(contains(e->what(), sql), e->what());
    }
    // With arguments the SQL text is carried as well.
    const auto bound = thrown<sqlpool::sqlite_error>([&] { conn.exec("INSERT INTO k VALUES(?)", 98); });
    BOOST_REQUIRE(bound.has_value());
    BOOST_TEST(bound->sql() == "INSERT INTO k VALUES(?)");
    BOOST_TEST(conn.broken_code() == 0); // constraint errors do not break a connection
    BOOST_TEST(count(conn, "k") == 0);
}

BOOST_AUTO_TEST_CASE(contending_writers_get_a_busy_error) {
    sqlpool::connection other{sqlpool::open_options{.path = path, .busy_timeout = 0ms}};
    conn.exec("CREATE TABLE t(v)");
    conn.exec("BEGIN IMMEDIATE");
    const auto e = thrown<sqlpool::busy_error>([&] { other.exec("BEGIN IMMEDIATE"); });
    BOOST_REQUIRE(e.has_value());
    BOOST_TEST(e->code() == sqlpool::result_code::busy);
    BOOST_TEST(e->sql() == "BEGIN IMMEDIATE");
    BOOST_TEST(!other.in_transaction());
    // An autocommit write is refused the same way, and is catchable as its base classes.
    bool caught_as_sqlite_error = false;
    try {
        other.exec("INSERT INTO t VALUES(1)");
    } catch (const sqlpool::sqlite_error& as_base) {
        caught_as_sqlite_error = as_base.code() == sqlpool::result_code::busy &&
                                 dynamic_cast<const sqlpool::busy_error*>(&as_base) != nullptr;
    }
    BOOST_TEST(caught_as_sqlite_error);
    BOOST_CHECK_THROW(other.exec("INSERT INTO t VALUES(1)"), sqlpool::error);
    BOOST_TEST(other.broken_code() == 0);
    conn.exec("COMMIT");
    other.exec("BEGIN IMMEDIATE");
    other.exec("INSERT INTO t VALUES(2)");
    other.exec("COMMIT");
    BOOST_TEST(count(conn, "t") == 1);
}

BOOST_AUTO_TEST_CASE(a_shared_cache_table_lock_is_a_busy_error_with_code_locked) {
    const auto uri = "file:sqlpool-locked-" + std::to_string(::getpid()) + "?mode=memory&cache=shared";
    sqlpool::connection writer{uri};
    sqlpool::connection reader{uri};
    writer.exec("CREATE TABLE t(v); INSERT INTO t VALUES(1);");
    writer.exec("BEGIN");
    writer.exec("INSERT INTO t VALUES(2)");
    const auto e = thrown<sqlpool::busy_error>(
        [&] { (void)reader.query_value<std::int64_t>("SELECT count(*) FROM t"); });
    BOOST_REQUIRE(e.has_value());
    BOOST_TEST(e->code() == sqlpool::result_code::locked);
    writer.exec("COMMIT");
    BOOST_TEST(reader.query_value<std::int64_t>("SELECT count(*) FROM t") == 2);
}

BOOST_AUTO_TEST_CASE(a_file_overwritten_with_garbage_breaks_the_connection) {
    temp_dir dir;
    const auto victim = dir.file("victim.db");
    sqlpool::connection db{
        sqlpool::open_options{.path = victim, .journal = sqlpool::journal_mode::delete_journal}};
    db.exec("CREATE TABLE t(v); INSERT INTO t VALUES(1);");
    BOOST_TEST(db.broken_code() == 0);
    std::ofstream(victim, std::ios::binary | std::ios::trunc) << std::string(8192, 'x');
    const auto e =
        thrown<sqlpool::sqlite_error>([&] { (void)db.query_value<std::int64_t>("SELECT count(*) FROM t"); });
    BOOST_REQUIRE(e.has_value());
    BOOST_TEST(e->code() == sqlpool::result_code::notadb);
    BOOST_TEST(db.broken_code() == e->extended_code());
    db.mark_broken(sqlpool::result_code::ioerr); // the first code sticks
    BOOST_TEST(db.broken_code() == e->extended_code());
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------------------------------------------
BOOST_FIXTURE_TEST_SUITE(lifecycle, file_db)

BOOST_AUTO_TEST_CASE(a_moved_from_connection_is_a_misuse) {
    conn.exec("CREATE TABLE t(v)");
    sqlpool::connection moved = std::move(conn);
    BOOST_CHECK_THROW(conn.exec("SELECT 1"), sqlpool::misuse_error);
    BOOST_CHECK_THROW(conn.exec("SELECT ?", 1), sqlpool::misuse_error);
    BOOST_CHECK_THROW((void)conn.prepare("SELECT 1"), sqlpool::misuse_error);
    BOOST_CHECK_THROW((void)conn.query<std::int64_t>("SELECT 1"), sqlpool::misuse_error);
    BOOST_CHECK_THROW((void)conn.query_one<std::int64_t>("SELECT 1"), sqlpool::misuse_error);
    BOOST_CHECK_THROW((void)conn.query_value<std::int64_t>("SELECT 1"), sqlpool::misuse_error);
    BOOST_CHECK_THROW((void)conn.changes(), sqlpool::misuse_error);
    BOOST_CHECK_THROW((void)conn.last_insert_rowid(), sqlpool::misuse_error);
    BOOST_CHECK_THROW((void)conn.in_transaction(), sqlpool::misuse_error);
    BOOST_CHECK_THROW((void)conn.read_only(), sqlpool::misuse_error);
    // The noexcept accessors report "nothing" instead.
    BOOST_TEST(conn.native_handle() == nullptr);
    BOOST_TEST(conn.broken_code() == 0);
    BOOST_TEST(conn.busy_statement_count() == 0u);
    BOOST_TEST(conn.reset_all_statements() == 0u);
    conn.interrupt();
    // The moved-to connection has everything, and move assignment revives the moved-from one.
    moved.exec("INSERT INTO t VALUES(1)");
    BOOST_TEST(count(moved, "t") == 1);
    conn = std::move(moved);
    BOOST_TEST(count(conn, "t") == 1);
    BOOST_CHECK_THROW((void)moved.changes(), sqlpool::misuse_error);
}

// statement_cache() is noexcept but goes through the throwing core() accessor: on a moved-from
// connection it must report (an empty cache, or a misuse_error) rather than call std::terminate. The
// call runs in a child process so that a terminate does not take the whole test program down.
BOOST_AUTO_TEST_CASE(statement_cache_of_a_moved_from_connection_does_not_terminate) {
    sqlpool::connection moved = std::move(conn);
    const pid_t child = ::fork();
    BOOST_REQUIRE(child >= 0);
    if (child == 0) {
        // Let a terminate kill the child instead of Boost.Test's SIGABRT handler reporting it again.
        struct sigaction default_action{};
        default_action.sa_handler = SIG_DFL;
        ::sigaction(SIGABRT, &default_action, nullptr);
        int status = 3;
        try {
            const auto stats = conn.statement_cache();
            status = stats.size == 0 ? 0 : 4;
        } catch (const sqlpool::misuse_error&) {
            status = 0;
        } catch (...) {
            status = 5;
        }
        ::_exit(status);
    }
    int status = 0;
    BOOST_REQUIRE(::waitpid(child, &status, 0) == child);
    BOOST_TEST(WIFEXITED(status),
               "the child was killed by signal " << (WIFSIGNALED(status) ? WTERMSIG(status) : 0));
    if (WIFEXITED(status)) BOOST_TEST(WEXITSTATUS(status) == 0);
}

BOOST_AUTO_TEST_CASE(reset_all_statements_resets_statements_left_mid_step) {
    BOOST_TEST(conn.reset_all_statements() == 0u);
    conn.exec("CREATE TABLE t(v); INSERT INTO t VALUES(1), (2), (3);");
    auto rows = conn.query<std::int64_t>("SELECT v FROM t ORDER BY v"); // cached, kept alive
    auto it = rows.begin();
    BOOST_TEST(std::get<0>(*it) == 1);
    auto twin = conn.prepare("SELECT v FROM t ORDER BY v"); // uncached: the cached one is checked out
    BOOST_TEST(!twin.cached());
    BOOST_REQUIRE(twin.step());
    BOOST_REQUIRE(twin.step());
    BOOST_TEST(twin.column<std::int64_t>(0) == 2);
    BOOST_TEST(conn.busy_statement_count() == 2u);
    BOOST_TEST(conn.reset_all_statements() == 2u);
    BOOST_TEST(conn.busy_statement_count() == 0u);
    BOOST_TEST(!twin.busy());
    // A reset statement starts over.
    BOOST_REQUIRE(twin.step());
    BOOST_TEST(twin.column<std::int64_t>(0) == 1);
    // A statement left mid-step locks its table against DROP; resetting it releases the table.
    const auto locked = thrown<sqlpool::busy_error>([&] { conn.exec("DROP TABLE t"); });
    BOOST_REQUIRE(locked.has_value());
    BOOST_TEST(locked->code() == sqlpool::result_code::locked);
    BOOST_TEST(conn.reset_all_statements() == 1u);
    conn.exec("DROP TABLE t");
    BOOST_TEST(conn.query_value<std::int64_t>("SELECT count(*) FROM sqlite_schema WHERE name = 't'") == 0);
}

BOOST_AUTO_TEST_CASE(in_transaction_follows_begin_commit_and_rollback) {
    conn.exec("CREATE TABLE t(v)");
    BOOST_TEST(!conn.in_transaction());
    conn.exec("BEGIN");
    BOOST_TEST(conn.in_transaction());
    conn.exec("INSERT INTO t VALUES(1)");
    conn.exec("ROLLBACK");
    BOOST_TEST(!conn.in_transaction());
    BOOST_TEST(count(conn, "t") == 0);
    conn.exec("SAVEPOINT s");
    BOOST_TEST(conn.in_transaction());
    conn.exec("INSERT INTO t VALUES(2)");
    conn.exec("RELEASE s");
    BOOST_TEST(!conn.in_transaction());
    conn.exec("BEGIN IMMEDIATE; INSERT INTO t VALUES(3);");
    BOOST_TEST(conn.in_transaction());
    conn.exec("COMMIT");
    BOOST_TEST(!conn.in_transaction());
    BOOST_TEST(count(conn, "t") == 2);
}

BOOST_AUTO_TEST_CASE(changes_and_last_insert_rowid) {
    conn.exec("CREATE TABLE t(id INTEGER PRIMARY KEY, v INTEGER)");
    conn.exec("INSERT INTO t(v) VALUES(?), (?), (?)", 1, 2, 3);
    BOOST_TEST(conn.changes() == 3);
    BOOST_TEST(conn.last_insert_rowid() == 3);
    conn.exec("INSERT INTO t(id, v) VALUES(?, ?)", std::int64_t{1} << 40, 4);
    BOOST_TEST(conn.changes() == 1);
    BOOST_TEST(conn.last_insert_rowid() == std::int64_t{1} << 40);
    conn.exec("UPDATE t SET v = v * 10 WHERE v >= ?", 2);
    BOOST_TEST(conn.changes() == 3);
    conn.exec("DELETE FROM t WHERE v > ?", 1000);
    BOOST_TEST(conn.changes() == 0);
    conn.exec("DELETE FROM t");
    BOOST_TEST(conn.changes() == 4);
}

// sqlite3_interrupt() is a no-op when nothing runs, so the statement is left running (mid-step) first:
// its next step then fails with SQLITE_INTERRUPT, deterministically and in one thread.
BOOST_AUTO_TEST_CASE(interrupt_stops_a_running_statement) {
    {
        auto rows = conn.query<std::int64_t>(endless);
        auto it = rows.begin();
        BOOST_TEST(std::get<0>(*it) == 1);
        conn.interrupt();
        const auto e = thrown<sqlpool::sqlite_error>([&] {
            for (int i = 0; i < 1000; ++i) ++it;
        });
        BOOST_REQUIRE(e.has_value());
        BOOST_TEST(e->code() == sqlpool::result_code::interrupt);
        BOOST_TEST(contains(e->sql(), "WITH RECURSIVE"), e->sql());
    }
    BOOST_TEST(conn.broken_code() == 0);
    BOOST_TEST(conn.query_value<std::int64_t>("SELECT 1") == 1); // the interrupt is over
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(statement_tracking)

// reset_all_statements() skips its walk over every prepared statement only when none can be
// mid-step; each way a statement can be left running must still be found and reset.
BOOST_AUTO_TEST_CASE(a_held_cached_statement_is_found) {
    sqlpool::connection conn{":memory:"};
    auto stmt = conn.prepare("SELECT 1 UNION ALL SELECT 2");
    BOOST_REQUIRE(stmt.cached());
    BOOST_REQUIRE(stmt.step());
    BOOST_TEST(conn.reset_all_statements() == 1u);
    BOOST_TEST(!stmt.busy());
}

BOOST_AUTO_TEST_CASE(a_held_uncached_statement_is_found) {
    temp_dir dir;
    sqlpool::connection conn{sqlpool::open_options{.path = dir.file("u.db"), .statement_cache_size = 0}};
    auto stmt = conn.prepare("SELECT 1 UNION ALL SELECT 2");
    BOOST_REQUIRE(!stmt.cached());
    BOOST_REQUIRE(stmt.step());
    BOOST_TEST(conn.reset_all_statements() == 1u);
}

BOOST_AUTO_TEST_CASE(a_statement_prepared_through_the_raw_handle_is_found) {
    sqlpool::connection conn{":memory:"};
    BOOST_TEST(conn.reset_all_statements() == 0u);
    sqlite3_stmt* raw = nullptr;
    BOOST_REQUIRE(sqlite3_prepare_v2(conn.native_handle(), "SELECT 1 UNION ALL SELECT 2", -1, &raw,
                                     nullptr) == SQLITE_OK);
    BOOST_REQUIRE(sqlite3_step(raw) == SQLITE_ROW);
    BOOST_TEST(conn.reset_all_statements() == 1u);
    BOOST_TEST(sqlite3_stmt_busy(raw) == 0);
    sqlite3_finalize(raw);
}

BOOST_AUTO_TEST_CASE(nothing_is_reset_once_every_statement_is_back) {
    sqlpool::connection conn{":memory:"};
    {
        auto cached = conn.prepare("SELECT 1 UNION ALL SELECT 2");
        BOOST_REQUIRE(cached.step());
        auto moved = std::move(cached); // still one statement held
        BOOST_TEST(conn.reset_all_statements() == 1u);
        BOOST_REQUIRE(moved.step());
    }
    BOOST_TEST(conn.busy_statement_count() == 0u);
    BOOST_TEST(conn.reset_all_statements() == 0u);
}

BOOST_AUTO_TEST_CASE(an_uncached_statement_may_outlive_its_connection) {
    temp_dir dir;
    std::optional<sqlpool::statement> survivor;
    {
        sqlpool::connection conn{sqlpool::open_options{.path = dir.file("o.db"), .statement_cache_size = 0}};
        survivor.emplace(conn.prepare("SELECT 1"));
    }
    BOOST_TEST(survivor->step()); // sqlite3_close_v2 kept the handle for it
    survivor.reset();             // finalizes, and the connection's count goes with it
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------------------------------------------
// exec_many(): one statement over a range of rows, all or none.
namespace {
struct people : file_db {
    people() { conn.exec("CREATE TABLE p(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE)"); }
    std::int64_t rows() { return conn.query_value<std::int64_t>("SELECT count(*) FROM p"); }
};
} // namespace

BOOST_FIXTURE_TEST_SUITE(exec_many, people)

BOOST_AUTO_TEST_CASE(runs_once_per_row_of_any_tuple_like_type) {
    const std::vector<std::tuple<int, std::string>> tuples{{1, "ada"}, {2, "bob"}};
    BOOST_TEST(conn.exec_many("INSERT INTO p VALUES(?, ?)", tuples) == 2);
    const std::vector<std::pair<std::int64_t, const char*>> pairs{{3, "cy"}};
    BOOST_TEST(conn.exec_many("INSERT INTO p VALUES(?, ?)", pairs) == 1);
    const std::array<std::array<std::string, 1>, 2> arrays{{{"ada"}, {"cy"}}};
    BOOST_TEST(conn.exec_many("UPDATE p SET name = upper(name) WHERE name = ?", arrays) == 2);
    BOOST_TEST(conn.query_value<std::string>(
                   "SELECT group_concat(name, ',') FROM (SELECT name FROM p ORDER BY id)") == "ADA,bob,CY");
    BOOST_TEST(!conn.in_transaction());
    BOOST_TEST(conn.busy_statement_count() == 0u);
}

BOOST_AUTO_TEST_CASE(takes_range_v3_and_std_views_and_single_pass_ranges) {
    auto generated =
        ranges::views::iota(0, 100) | ranges::views::filter([](int i) { return i % 2 == 0; }) |
        ranges::views::transform([](int i) { return std::tuple{i, "even " + std::to_string(i)}; });
    BOOST_TEST(conn.exec_many("INSERT INTO p VALUES(?, ?)", generated) == 50);
    auto odd = std::views::iota(0, 10) | std::views::transform([](int i) { return std::tuple{2 * i + 1}; });
    BOOST_TEST(conn.exec_many("INSERT INTO p(id, name) VALUES(?, 'odd ' || ?1)", odd) == 10);
    int next = 1000;
    auto once = ranges::views::generate_n([&next] { return std::tuple{next++, "g"}; }, 1); // input only
    BOOST_TEST(conn.exec_many("INSERT INTO p VALUES(?, ?)", once) == 1);
    BOOST_TEST(rows() == 61);
}

BOOST_AUTO_TEST_CASE(a_failing_row_leaves_none_of_them) {
    const std::vector<std::tuple<int, std::string>> rows_in{{1, "ada"}, {2, "bob"}, {3, "ada"}, {4, "dan"}};
    const auto e =
        thrown<sqlpool::sqlite_error>([&] { (void)conn.exec_many("INSERT INTO p VALUES(?, ?)", rows_in); });
    BOOST_REQUIRE(e.has_value());
    BOOST_TEST(contains(e->what(), "UNIQUE"), e->what());
    BOOST_TEST(rows() == 0);
    BOOST_TEST(!conn.in_transaction());
    BOOST_TEST(conn.exec_many("INSERT INTO p VALUES(?, ?)",
                              std::vector<std::tuple<int, std::string>>{{9, "ok"}}) == 1); // usable after
}

BOOST_AUTO_TEST_CASE(inside_a_transaction_a_failure_undoes_only_its_own_rows) {
    auto tx = conn.begin();
    conn.exec("INSERT INTO p VALUES(1, 'before')");
    const std::vector<std::tuple<int, std::optional<std::string>>> bad{{2, "x"}, {3, std::nullopt}};
    BOOST_CHECK_THROW((void)conn.exec_many("INSERT INTO p VALUES(?, ?)", bad), sqlpool::sqlite_error);
    BOOST_TEST(conn.in_transaction());
    tx.commit();
    BOOST_TEST(rows() == 1);
    BOOST_TEST(conn.query_value<std::string>("SELECT name FROM p") == "before");
}

BOOST_AUTO_TEST_CASE(a_row_of_the_wrong_width_is_a_misuse_and_changes_nothing) {
    const std::vector<std::tuple<int>> narrow{{1}};
    BOOST_TEST(contains(misuse_message([&] { (void)conn.exec_many("INSERT INTO p VALUES(?, ?)", narrow); }),
                        "takes 2 parameter(s) but 1 were given"));
    BOOST_TEST(rows() == 0);
    BOOST_TEST(!conn.in_transaction());
    BOOST_TEST(conn.exec_many("INSERT INTO p VALUES(?, ?)", std::vector<std::tuple<int, std::string>>{}) ==
               0);
}

BOOST_AUTO_TEST_SUITE_END()
