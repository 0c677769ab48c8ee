// statement_cache: each connection's cache of prepared statements (hits, misses, LRU eviction,
// checked-out statements) and what it does across schema changes.
#define BOOST_TEST_MODULE statement_cache
#include <boost/test/unit_test.hpp>

#include <cstdint>
#include <optional>
#include <tuple>

#include "support/temp_dir.hpp"

import sqlpool;

namespace {

using sqlpool_test::temp_dir;

} // namespace

// ---------------------------------------------------------------------------------------------------
BOOST_AUTO_TEST_SUITE(statement_cache)

namespace {
struct small_cache {
    temp_dir dir;
    sqlpool::connection conn{sqlpool::open_options{.path = dir.file("c.db"), .statement_cache_size = 2}};
    sqlpool::statement_cache_stats base = conn.statement_cache();

    void run(const char* sql) { (void)conn.query_value<std::int64_t>(sql); }
    [[nodiscard]] std::uint64_t hits() const { return conn.statement_cache().hits - base.hits; }
    [[nodiscard]] std::uint64_t misses() const { return conn.statement_cache().misses - base.misses; }
    [[nodiscard]] std::uint64_t evictions() const {
        return conn.statement_cache().evictions - base.evictions;
    }
};
} // namespace

BOOST_FIXTURE_TEST_CASE(hits_and_misses_are_counted, small_cache) {
    BOOST_TEST(base.capacity == 2u);
    BOOST_TEST(base.size <= 2u);
    run("SELECT 1");
    BOOST_TEST(misses() == 1u);
    BOOST_TEST(hits() == 0u);
    run("SELECT 1");
    run("SELECT 1");
    BOOST_TEST(misses() == 1u);
    BOOST_TEST(hits() == 2u);
    // Different text is a different statement.
    run("SELECT  1");
    BOOST_TEST(misses() == 2u);
}

BOOST_FIXTURE_TEST_CASE(the_least_recently_used_statement_is_evicted, small_cache) {
    run("SELECT 1"); // A
    run("SELECT 2"); // B
    BOOST_TEST(conn.statement_cache().size == 2u);
    const auto evicted_so_far = evictions();
    run("SELECT 1"); // A is now the most recently used
    BOOST_TEST(hits() == 1u);
    run("SELECT 3"); // C evicts B
    BOOST_TEST(evictions() == evicted_so_far + 1u);
    BOOST_TEST(conn.statement_cache().size == 2u);
    run("SELECT 1"); // still cached
    BOOST_TEST(hits() == 2u);
    BOOST_TEST(misses() == 3u);
    run("SELECT 2"); // was evicted
    BOOST_TEST(misses() == 4u);
}

BOOST_FIXTURE_TEST_CASE(a_checked_out_statement_is_never_evicted, small_cache) {
    auto held = conn.prepare("SELECT 41 + 1"); // A, checked out
    BOOST_TEST(held.cached());
    run("SELECT 2"); // B: the cache is [B, A], A least recently used but checked out
    const auto evicted_so_far = evictions();
    run("SELECT 3"); // C must evict B, not A
    BOOST_TEST(evictions() == evicted_so_far + 1u);
    BOOST_REQUIRE(held.step());
    BOOST_TEST(held.column<std::int64_t>(0) == 42);
    held = sqlpool::statement{}; // back to the cache
    const auto hits_before = hits();
    run("SELECT 41 + 1");
    BOOST_TEST(hits() == hits_before + 1u);
    run("SELECT 3");
    BOOST_TEST(hits() == hits_before + 2u);
    const auto misses_before = misses();
    run("SELECT 2");
    BOOST_TEST(misses() == misses_before + 1u);
}

BOOST_FIXTURE_TEST_CASE(a_full_cache_of_checked_out_statements_prepares_uncached, small_cache) {
    auto a = conn.prepare("SELECT 1");
    auto b = conn.prepare("SELECT 2");
    const auto before = conn.statement_cache();
    auto c = conn.prepare("SELECT 3");
    BOOST_TEST(a.cached());
    BOOST_TEST(b.cached());
    BOOST_TEST(!c.cached());
    BOOST_TEST(conn.statement_cache().size == 2u);
    BOOST_TEST(conn.statement_cache().evictions == before.evictions);
    BOOST_REQUIRE(c.step());
    BOOST_TEST(c.column<std::int64_t>(0) == 3);
}

BOOST_FIXTURE_TEST_CASE(the_same_sql_checked_out_twice_gives_independent_statements, small_cache) {
    conn.exec("CREATE TABLE n(v INTEGER); INSERT INTO n VALUES(1), (2), (3);");
    auto first = conn.prepare("SELECT v FROM n ORDER BY v");
    auto twin = conn.prepare("SELECT v FROM n ORDER BY v");
    BOOST_TEST(first.cached());
    BOOST_TEST(!twin.cached());
    BOOST_TEST(first.native_handle() != twin.native_handle());
    // Nested iteration over the same query: the cross product.
    std::int64_t pairs = 0;
    for (auto [a] : conn.query<std::int64_t>("SELECT v FROM n ORDER BY v"))
        for (auto [b] : conn.query<std::int64_t>("SELECT v FROM n ORDER BY v")) pairs += a * 10 + b;
    BOOST_TEST(pairs == (10 + 20 + 30) * 3 + (1 + 2 + 3) * 3);
}

BOOST_FIXTURE_TEST_CASE(a_cached_statement_comes_back_reset_and_unbound, small_cache) {
    {
        auto stmt = conn.prepare("SELECT ?");
        stmt.bind(1, 5);
        BOOST_REQUIRE(stmt.step());
        BOOST_TEST(conn.busy_statement_count() == 1u);
    }
    BOOST_TEST(conn.busy_statement_count() == 0u);
    auto again = conn.prepare("SELECT ?");
    BOOST_TEST(again.cached());
    BOOST_TEST(hits() == 1u);
    BOOST_REQUIRE(again.step());
    BOOST_TEST(again.is_null(0));
}

// Queries through the cache follow schema changes. SQLite re-prepares an expired statement only when it
// is stepped, so sqlpool checks a reused statement's column count after its first step.
BOOST_FIXTURE_TEST_CASE(a_cached_statement_follows_schema_changes, small_cache) {
    conn.exec("CREATE TABLE t(a INTEGER); INSERT INTO t VALUES(1);");
    BOOST_TEST(conn.query_one<std::int64_t>("SELECT * FROM t").has_value());
    conn.exec("ALTER TABLE t ADD COLUMN b INTEGER DEFAULT 2");
    {
        // Before its first step a reused statement may still describe the old schema (documented on
        // statement::reused()); after it, the new one.
        auto stmt = conn.prepare("SELECT * FROM t");
        BOOST_REQUIRE(stmt.step());
        BOOST_TEST(stmt.column_count() == 2);
    }
    std::optional<std::tuple<std::int64_t, std::int64_t>> row;
    BOOST_CHECK_NO_THROW((row = conn.query_one<std::int64_t, std::int64_t>("SELECT * FROM t")));
    BOOST_TEST((row == std::tuple<std::int64_t, std::int64_t>{1, 2}));
}

BOOST_AUTO_TEST_CASE(capacity_zero_disables_the_cache) {
    temp_dir dir;
    sqlpool::connection conn{sqlpool::open_options{.path = dir.file("c.db"), .statement_cache_size = 0}};
    (void)conn.query_value<std::int64_t>("SELECT 1");
    (void)conn.query_value<std::int64_t>("SELECT 1");
    auto stmt = conn.prepare("SELECT 1");
    BOOST_TEST(!stmt.cached());
    BOOST_REQUIRE(stmt.step());
    const auto stats = conn.statement_cache();
    BOOST_TEST(stats.hits == 0u);
    BOOST_TEST(stats.size == 0u);
    BOOST_TEST(stats.capacity == 0u);
    BOOST_TEST(stats.evictions == 0u);
    BOOST_TEST(stats.misses >= 3u);
}

BOOST_AUTO_TEST_SUITE_END()
