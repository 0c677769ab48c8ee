#define BOOST_TEST_MODULE sqlite
#include <boost/test/unit_test.hpp>

#include <range/v3/view/filter.hpp>
#include <range/v3/view/take.hpp>
#include <range/v3/view/transform.hpp>

#include <sqlite3.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <limits>
#include <optional>
#include <ranges>
#include <string>
#include <tuple>
#include <vector>

#include "support/scratch_dir.hpp"

import sqlpool;

using namespace std::chrono_literals;

namespace {

struct fixture {
    sqlpool_test::scratch_dir dir{"sqlite"};
    std::string path = dir.file("test.db");
    sqlpool::connection conn{path};
};

template <class F>
std::string message_of(F&& f) {
    try {
        f();
    } catch (const std::exception& e) {
        return e.what();
    }
    return {};
}

bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

} // namespace

BOOST_FIXTURE_TEST_SUITE(connection, fixture)

BOOST_AUTO_TEST_CASE(defaults_are_applied) {
    BOOST_TEST(conn.query_value<std::string>("PRAGMA journal_mode") == "wal");
    BOOST_TEST(conn.query_value<std::int64_t>("PRAGMA foreign_keys") == 1);
    BOOST_TEST(conn.query_value<std::int64_t>("PRAGMA synchronous") == 1); // NORMAL
    BOOST_TEST(conn.query_value<std::int64_t>("PRAGMA trusted_schema") == 0);
    int defensive = -1;
    BOOST_TEST(sqlite3_db_config(conn.native_handle(), SQLITE_DBCONFIG_DEFENSIVE, -1, &defensive) ==
               SQLITE_OK);
    BOOST_TEST(defensive == 1);
    int extensions = -1;
    sqlite3_db_config(conn.native_handle(), SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION, -1, &extensions);
    BOOST_TEST(extensions == 0);
    BOOST_TEST(!conn.read_only());
    BOOST_TEST(!conn.in_transaction());
}

BOOST_AUTO_TEST_CASE(user_pragmas_apply_and_bad_ones_are_refused) {
    sqlpool::connection tuned{
        sqlpool::open_options{.path = dir.file("p.db"), .pragmas = {{"cache_size", "-4000"}}}};
    BOOST_TEST(tuned.query_value<std::int64_t>("PRAGMA cache_size") == -4000);
    BOOST_CHECK_THROW(sqlpool::connection(sqlpool::open_options{
                          .path = dir.file("q.db"), .pragmas = {{"cache_size; DROP TABLE x", "1"}}}),
                      sqlpool::misuse_error);
}

BOOST_AUTO_TEST_CASE(read_only_connection_cannot_write) {
    conn.exec("CREATE TABLE t(v)");
    sqlpool::connection reader{sqlpool::open_options{.path = path, .mode = sqlpool::open_mode::read_only}};
    BOOST_TEST(reader.read_only());
    const auto what = message_of([&] { reader.exec("INSERT INTO t VALUES(1)"); });
    BOOST_TEST(contains(what, "readonly"));
}

BOOST_AUTO_TEST_CASE(bad_paths_fail_clearly) {
    try {
        sqlpool::connection missing{dir.file("no/such/dir/x.db")};
        BOOST_FAIL("opened a file in a missing directory");
    } catch (const sqlpool::sqlite_error& e) {
        BOOST_TEST(e.code() == sqlpool::result_code::cantopen);
        BOOST_TEST(contains(e.what(), "no/such/dir"));
    }
    const auto garbage = dir.file("garbage.db");
    std::ofstream(garbage) << std::string(4096, 'x');
    try {
        sqlpool::connection notadb{garbage};
        BOOST_FAIL("opened a file that is not a database");
    } catch (const sqlpool::sqlite_error& e) {
        BOOST_TEST(e.code() == sqlpool::result_code::notadb);
    }
    BOOST_CHECK_THROW(sqlpool::connection(std::string{}), sqlpool::misuse_error);
}

BOOST_AUTO_TEST_CASE(nofollow_refuses_a_symlink) {
    const auto link = dir.path() / "link.db";
    std::filesystem::create_symlink(path, link);
    try {
        sqlpool::connection linked{sqlpool::open_options{.path = link.string(), .nofollow = true}};
        BOOST_FAIL("opened a symlink with nofollow");
    } catch (const sqlpool::sqlite_error& e) {
        BOOST_TEST(e.code() == sqlpool::result_code::cantopen);
    }
    sqlpool::connection followed{link.string()}; // without nofollow it opens
}

BOOST_AUTO_TEST_CASE(moved_from_connection_is_a_misuse) {
    sqlpool::connection moved = std::move(conn);
    BOOST_CHECK_THROW(conn.exec("SELECT 1"), sqlpool::misuse_error);
    BOOST_CHECK_THROW((void)conn.changes(), sqlpool::misuse_error);
    BOOST_TEST(moved.query_value<std::int64_t>("SELECT 1") == 1);
}

BOOST_AUTO_TEST_CASE(changes_rowid_and_transactions) {
    conn.exec("CREATE TABLE t(id INTEGER PRIMARY KEY, v INTEGER)");
    conn.exec("INSERT INTO t(v) VALUES(?), (?), (?)", 1, 2, 3);
    BOOST_TEST(conn.changes() == 3);
    BOOST_TEST(conn.last_insert_rowid() == 3);
    conn.exec("BEGIN");
    BOOST_TEST(conn.in_transaction());
    conn.exec("ROLLBACK");
    BOOST_TEST(!conn.in_transaction());
}

BOOST_AUTO_TEST_CASE(scripts_run_every_statement) {
    conn.exec("CREATE TABLE a(v); CREATE TABLE b(v); -- a comment\n INSERT INTO a VALUES(1); INSERT INTO b "
              "VALUES(2);");
    BOOST_TEST(conn.query_value<std::int64_t>("SELECT (SELECT v FROM a) + (SELECT v FROM b)") == 3);
    conn.exec("");
    conn.exec("-- nothing but a comment");
    BOOST_CHECK_THROW(conn.exec("INSERT INTO a VALUES(?); INSERT INTO b VALUES(?)", 1, 2),
                      sqlpool::misuse_error);
    BOOST_CHECK_THROW((void)conn.prepare("SELECT 1; SELECT 2"), sqlpool::misuse_error);
    BOOST_CHECK_THROW((void)conn.prepare("  "), sqlpool::misuse_error);
    BOOST_TEST(conn.prepare("SELECT 1; -- trailing comment").column_count() == 1);
}

BOOST_AUTO_TEST_CASE(reset_all_statements_resets_the_busy_ones) {
    conn.exec("CREATE TABLE t(v); INSERT INTO t VALUES(1), (2);");
    auto rows = conn.query<std::int64_t>("SELECT v FROM t");
    auto it = rows.begin();
    BOOST_TEST(std::get<0>(*it) == 1);
    BOOST_TEST(conn.busy_statement_count() == 1u);
    BOOST_TEST(conn.reset_all_statements() == 1u);
    BOOST_TEST(conn.busy_statement_count() == 0u);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(values, fixture)

BOOST_AUTO_TEST_CASE(every_type_round_trips) {
    conn.exec("CREATE TABLE v(i INTEGER, r REAL, t TEXT, b BLOB, n INTEGER)");
    const std::vector<std::byte> blob{std::byte{0}, std::byte{1}, std::byte{255}};
    conn.exec("INSERT INTO v VALUES(?, ?, ?, ?, ?)", std::numeric_limits<std::int64_t>::min(), 2.5,
              std::string("text with \0 inside", 18), blob, nullptr);
    const auto row =
        conn.query_one<std::int64_t, double, std::string, std::vector<std::byte>, std::optional<int>>(
            "SELECT i, r, t, b, n FROM v");
    BOOST_REQUIRE(row.has_value());
    BOOST_TEST(std::get<0>(*row) == std::numeric_limits<std::int64_t>::min());
    BOOST_TEST(std::get<1>(*row) == 2.5);
    BOOST_TEST(std::get<2>(*row).size() == 18u);
    BOOST_TEST((std::get<3>(*row) == blob));
    BOOST_TEST(!std::get<4>(*row).has_value());
}

BOOST_AUTO_TEST_CASE(optional_and_empty_values_bind) {
    conn.exec("CREATE TABLE v(a, b, c)");
    conn.exec("INSERT INTO v VALUES(?, ?, ?)", std::optional<int>{}, std::optional<std::string>{"x"},
              std::vector<std::byte>{});
    BOOST_TEST(conn.query_value<std::int64_t>("SELECT a IS NULL FROM v") == 1);
    BOOST_TEST(conn.query_value<std::string>("SELECT b FROM v") == "x");
    BOOST_TEST(conn.query_value<std::string>("SELECT typeof(c) FROM v") == "blob"); // empty blob, not NULL
    BOOST_TEST(conn.query_value<std::int64_t>("SELECT ?", std::numeric_limits<std::int64_t>::max()) ==
               std::numeric_limits<std::int64_t>::max());
    BOOST_TEST(conn.query_value<bool>("SELECT ?", true));
    BOOST_TEST(conn.query_value<double>("SELECT 3") == 3.0); // INTEGER widens to double
}

BOOST_AUTO_TEST_CASE(wrong_types_are_misuse_errors_naming_the_column) {
    conn.exec(
        "CREATE TABLE v(t TEXT, n INTEGER, big INTEGER); INSERT INTO v VALUES('abc', NULL, 9999999999);");
    const auto wrong_type = message_of([&] { (void)conn.query_value<std::int64_t>("SELECT t FROM v"); });
    BOOST_TEST(contains(wrong_type, "'t'"));
    BOOST_TEST(contains(wrong_type, "TEXT"));
    BOOST_CHECK_THROW((void)conn.query_value<std::int64_t>("SELECT t FROM v"), sqlpool::misuse_error);
    BOOST_CHECK_THROW((void)conn.query_value<std::int64_t>("SELECT n FROM v"), sqlpool::misuse_error);
    BOOST_TEST(contains(message_of([&] { (void)conn.query_value<std::string>("SELECT n FROM v"); }),
                        "std::optional"));
    BOOST_CHECK_THROW((void)conn.query_value<int>("SELECT big FROM v"), sqlpool::misuse_error);
    BOOST_CHECK_THROW((void)conn.query_value<std::vector<std::byte>>("SELECT t FROM v"),
                      sqlpool::misuse_error);
    BOOST_CHECK_THROW((void)conn.query_value<std::int64_t>("SELECT 1 WHERE 0"), sqlpool::error); // no row
}

BOOST_AUTO_TEST_CASE(bind_counts_and_names_are_checked) {
    conn.exec("CREATE TABLE v(a, b)");
    BOOST_CHECK_THROW(conn.exec("INSERT INTO v VALUES(?, ?)", 1, 2, 3), sqlpool::misuse_error); // too many
    BOOST_CHECK_THROW(conn.exec("INSERT INTO v VALUES(?, ?)", 1), sqlpool::misuse_error);       // too few
    auto stmt = conn.prepare("INSERT INTO v VALUES(:a, :b)");
    BOOST_CHECK_THROW(stmt.bind(3, 1), sqlpool::misuse_error);       // index out of range
    BOOST_CHECK_THROW(stmt.bind(":nope", 1), sqlpool::misuse_error); // unknown name
    stmt.bind(":a", 1).bind(":b", "two");
    BOOST_TEST(!stmt.step());
    BOOST_TEST(conn.query_value<std::string>("SELECT b FROM v WHERE a = 1") == "two");
    BOOST_CHECK_THROW(((void)conn.query<std::int64_t, std::int64_t, std::int64_t>("SELECT a, b FROM v")),
                      sqlpool::misuse_error); // three types, two columns
}

BOOST_AUTO_TEST_CASE(statement_reads_columns_and_guards_misuse) {
    conn.exec("CREATE TABLE v(a INTEGER, b TEXT); INSERT INTO v VALUES(1, NULL);");
    auto stmt = conn.prepare("SELECT a, b FROM v");
    BOOST_TEST(stmt.column_count() == 2);
    BOOST_TEST(stmt.column_name(1) == "b");
    BOOST_CHECK_THROW((void)stmt.column<std::int64_t>(0), sqlpool::misuse_error); // no row yet
    BOOST_TEST(stmt.step());
    BOOST_TEST(stmt.column<std::int64_t>(0) == 1);
    BOOST_TEST(stmt.is_null(1));
    BOOST_CHECK_THROW((void)stmt.column<std::int64_t>(2), sqlpool::misuse_error);
    BOOST_TEST(!stmt.step());
    sqlpool::statement moved = std::move(stmt);
    BOOST_CHECK_THROW((void)stmt.step(), sqlpool::misuse_error);
    BOOST_CHECK_THROW((void)stmt.column_count(), sqlpool::misuse_error);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(statement_cache, fixture)

BOOST_AUTO_TEST_CASE(hits_misses_and_evictions) {
    sqlpool::connection small{sqlpool::open_options{.path = dir.file("c.db"), .statement_cache_size = 2}};
    const auto base = small.statement_cache();
    (void)small.query_value<std::int64_t>("SELECT 1");
    (void)small.query_value<std::int64_t>("SELECT 1");
    auto s = small.statement_cache();
    BOOST_TEST(s.misses - base.misses == 1u);
    BOOST_TEST(s.hits - base.hits == 1u);
    (void)small.query_value<std::int64_t>("SELECT 2");
    (void)small.query_value<std::int64_t>("SELECT 3");
    s = small.statement_cache();
    BOOST_TEST(s.size == 2u);
    BOOST_TEST(s.capacity == 2u);
    BOOST_TEST(s.evictions >= 1u);
    (void)small.query_value<std::int64_t>("SELECT 1"); // evicted: a miss again
    BOOST_TEST(small.statement_cache().misses - s.misses == 1u);
}

BOOST_AUTO_TEST_CASE(a_checked_out_statement_is_never_evicted) {
    sqlpool::connection small{sqlpool::open_options{.path = dir.file("c.db"), .statement_cache_size = 1}};
    auto held = small.prepare("SELECT 41 + 1");
    BOOST_TEST(held.cached());
    (void)small.query_value<std::int64_t>("SELECT 2"); // cache full of a checked-out entry: not cached
    BOOST_TEST(held.step());
    BOOST_TEST(held.column<std::int64_t>(0) == 42);
    // The same SQL while checked out is prepared afresh, not shared.
    auto twin = small.prepare("SELECT 41 + 1");
    BOOST_TEST(!twin.cached());
}

BOOST_AUTO_TEST_CASE(capacity_zero_disables_the_cache) {
    sqlpool::connection uncached{sqlpool::open_options{.path = dir.file("c.db"), .statement_cache_size = 0}};
    (void)uncached.query_value<std::int64_t>("SELECT 1");
    (void)uncached.query_value<std::int64_t>("SELECT 1");
    BOOST_TEST(uncached.statement_cache().hits == 0u);
    BOOST_TEST(uncached.statement_cache().size == 0u);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(queries, fixture)

BOOST_AUTO_TEST_CASE(ranges_compose_with_range_v3_and_std_views) {
    conn.exec("CREATE TABLE n(v INTEGER)");
    for (int i = 1; i <= 10; ++i) conn.exec("INSERT INTO n VALUES(?)", i);
    std::vector<std::int64_t> first_three;
    for (auto [v] : conn.query<std::int64_t>("SELECT v FROM n ORDER BY v") | ::ranges::views::take(3))
        first_three.push_back(v);
    BOOST_TEST((first_three == std::vector<std::int64_t>{1, 2, 3}));

    std::vector<std::int64_t> even_squares;
    for (auto sq :
         conn.query<std::int64_t>("SELECT v FROM n ORDER BY v") |
             ::ranges::views::filter([](const auto& row) { return std::get<0>(row) % 2 == 0; }) |
             ::ranges::views::transform([](const auto& row) { return std::get<0>(row) * std::get<0>(row); }))
        even_squares.push_back(sq);
    BOOST_TEST((even_squares == std::vector<std::int64_t>{4, 16, 36, 64, 100}));

    std::int64_t sum = 0;
    for (auto [v] : conn.query<std::int64_t>("SELECT v FROM n WHERE v > ?", 7) | std::views::take(2))
        sum += v;
    BOOST_TEST(sum == 8 + 9);
    // The statement went back to the cache once each range was done or dropped: no busy statement.
    BOOST_TEST(conn.busy_statement_count() == 0u);
}

BOOST_AUTO_TEST_CASE(query_one_and_empty_results) {
    conn.exec("CREATE TABLE n(v INTEGER, name TEXT)");
    BOOST_TEST(!conn.query_one<std::int64_t>("SELECT v FROM n").has_value());
    conn.exec("INSERT INTO n VALUES(1, 'one')");
    const auto row = conn.query_one<std::int64_t, std::string>("SELECT v, name FROM n WHERE v = ?", 1);
    BOOST_REQUIRE(row.has_value());
    BOOST_TEST(std::get<1>(*row) == "one");
    int count = 0;
    for ([[maybe_unused]] auto&& r : conn.query<std::int64_t>("SELECT v FROM n WHERE v > 5")) ++count;
    BOOST_TEST(count == 0);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(error_mapping, fixture)

BOOST_AUTO_TEST_CASE(syntax_error_carries_the_sql) {
    try {
        conn.exec("SELEKT 1");
        BOOST_FAIL("no error");
    } catch (const sqlpool::sqlite_error& e) {
        BOOST_TEST(e.code() == sqlpool::result_code::error);
        BOOST_TEST(e.sql() == "SELEKT 1");
        BOOST_TEST(contains(e.sqlite_message(), "syntax error"));
    }
}

BOOST_AUTO_TEST_CASE(constraint_violations_carry_extended_codes) {
    conn.exec("CREATE TABLE p(id INTEGER PRIMARY KEY, u TEXT UNIQUE, nn TEXT NOT NULL DEFAULT 'x');"
              "CREATE TABLE c(pid INTEGER REFERENCES p(id));"
              "INSERT INTO p(id, u) VALUES(1, 'a');");
    const auto code_of = [&](const char* sql) {
        try {
            conn.exec(sql);
        } catch (const sqlpool::sqlite_error& e) {
            return e.extended_code();
        }
        return 0;
    };
    BOOST_TEST(code_of("INSERT INTO p(id, u) VALUES(2, 'a')") == sqlpool::result_code::constraint_unique);
    BOOST_TEST(code_of("INSERT INTO p(id, u) VALUES(1, 'b')") == sqlpool::result_code::constraint_primarykey);
    BOOST_TEST(code_of("INSERT INTO p(id, u, nn) VALUES(3, 'c', NULL)") ==
               sqlpool::result_code::constraint_notnull);
    BOOST_TEST(code_of("INSERT INTO c VALUES(99)") == sqlpool::result_code::constraint_foreignkey);
    BOOST_TEST(conn.broken_code() == 0); // constraint errors do not break a connection
}

BOOST_AUTO_TEST_CASE(contending_writers_get_busy_error) {
    sqlpool::connection other{sqlpool::open_options{.path = path, .busy_timeout = 0ms}};
    conn.exec("BEGIN IMMEDIATE");
    try {
        other.exec("BEGIN IMMEDIATE");
        BOOST_FAIL("no busy_error");
    } catch (const sqlpool::busy_error& e) {
        BOOST_TEST(e.code() == sqlpool::result_code::busy);
    }
    conn.exec("COMMIT");
    other.exec("BEGIN IMMEDIATE");
    other.exec("COMMIT");
}

BOOST_AUTO_TEST_SUITE_END()
