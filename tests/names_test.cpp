// names: each enum's one table of names. The tables are internal; these tests read them through
// what uses them: to_string(), pool_config's text form, and the pragmas a connection runs.
#define BOOST_TEST_MODULE names
#include <boost/test/unit_test.hpp>

#include <array>
#include <cstddef>
#include <string>

#include "support/temp_dir.hpp"

import sqlpool;

namespace {

// The one problem parse() reports for `text`, or "" when it accepts it.
std::string problem_of(const std::string& text) {
    try {
        (void)sqlpool::pool_config::parse(text);
    } catch (const sqlpool::config_error& e) {
        return e.problems().size() == 1 ? e.problems().front() : "several problems";
    }
    return {};
}

constexpr std::array<const char*, 7> journal_names{"wal",    "delete", "truncate", "persist",
                                                   "memory", "off",    "unchanged"};

} // namespace

BOOST_AUTO_TEST_CASE(a_value_outside_its_table_is_named_with_a_question_mark) {
    BOOST_TEST(std::string(sqlpool::to_string(sqlpool::retire_reason::aged)) == "aged");
    BOOST_TEST(std::string(sqlpool::to_string(static_cast<sqlpool::retire_reason>(9))) == "?");
    BOOST_TEST(std::string(sqlpool::to_string(static_cast<sqlpool::health_status>(3))) == "?");
    BOOST_TEST(std::string(sqlpool::to_string(static_cast<sqlpool::isolation_level>(-1))) == "?");
}

BOOST_AUTO_TEST_CASE(text_reads_each_name_as_the_value_in_its_place) {
    for (std::size_t i = 0; i < journal_names.size(); ++i) {
        BOOST_TEST_CONTEXT("journal=" << journal_names[i]) {
            const auto config =
                sqlpool::pool_config::parse("database=x.db journal=" + std::string(journal_names[i]));
            BOOST_TEST((config.journal == static_cast<sqlpool::journal_mode>(i)));
        }
    }
    BOOST_TEST(
        (sqlpool::pool_config::parse("database=x.db mode=read_only").mode == sqlpool::open_mode::read_only));
    BOOST_TEST((sqlpool::pool_config::parse("database=x.db synchronous=extra").synchronous ==
                sqlpool::synchronous_mode::extra));
}

BOOST_AUTO_TEST_CASE(an_unknown_name_is_refused_with_every_valid_name_in_order) {
    BOOST_TEST(problem_of("database=x.db journal=wall") ==
               "journal: unknown value 'wall' (use wal, delete, truncate, persist, memory, off, unchanged)");
    BOOST_TEST(problem_of("database=x.db synchronous=normall") ==
               "synchronous: unknown value 'normall' (use off, normal, full, extra, unchanged)");
    BOOST_TEST(problem_of("database=x.db mode=rw") ==
               "mode: unknown value 'rw' (use read_only, read_write, read_write_create)");
    // A name matches exactly: no case folding, no prefixes.
    BOOST_TEST(!problem_of("database=x.db journal=WAL").empty());
    BOOST_TEST(!problem_of("database=x.db journal=del").empty());
    BOOST_TEST(problem_of("database=x.db journal=delete").empty());
}

// The journal names are SQLite's own: a connection sets the mode by name and reads back the same.
// (`off` is refused in defensive mode, and `unchanged` sets nothing.)
BOOST_AUTO_TEST_CASE(journal_names_are_the_ones_sqlite_reports) {
    sqlpool_test::temp_dir dir;
    for (std::size_t i = 0; i < 5; ++i) { // wal, delete, truncate, persist, memory
        BOOST_TEST_CONTEXT("journal=" << journal_names[i]) {
            sqlpool::connection conn{sqlpool::open_options{.path = dir.file("j" + std::to_string(i) + ".db"),
                                                           .journal = static_cast<sqlpool::journal_mode>(i)}};
            BOOST_TEST(conn.query_value<std::string>("PRAGMA journal_mode") == journal_names[i]);
        }
    }
}
