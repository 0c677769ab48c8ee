// file_watch: a connection notices that its database file was deleted or replaced under it, and a
// commit into the old file fails with database_moved_error instead of being acknowledged. The watch
// is internal; these tests go through connection (file_moved(), file_inode(), its commits).
#define BOOST_TEST_MODULE file_watch
#include <boost/test/unit_test.hpp>

#include <sys/stat.h>

#include <cstdint>
#include <filesystem>
#include <string>

#include "support/sqlite_helpers.hpp"

import sqlpool;

namespace {

using sqlpool_test::contains;
using sqlpool_test::temp_dir;
using sqlpool_test::thrown;

// A rollback journal, so that no -wal or -shm file outlives the old file under its names.
sqlpool::open_options options_at(const std::string& path) {
    return {.path = path, .journal = sqlpool::journal_mode::delete_journal};
}

// A database file with table t holding one row, and a connection to it.
struct watched {
    temp_dir dir;
    std::string path = dir.file("w.db");
    sqlpool::connection conn{options_at(path)};
    watched() { conn.exec("CREATE TABLE t(v); INSERT INTO t VALUES(1);"); }

    // Renames a fresh database with table `restored` over the path, the way a restore would.
    void replace() const {
        const auto replacement = dir.file("replacement.db");
        {
            sqlpool::connection fresh{options_at(replacement)};
            fresh.exec("CREATE TABLE restored(v)");
        }
        std::filesystem::rename(replacement, path);
    }
};

} // namespace

BOOST_FIXTURE_TEST_SUITE(file_watch, watched)

BOOST_AUTO_TEST_CASE(an_unmoved_file_is_the_one_opened_and_commits) {
    struct stat st{};
    BOOST_TEST_REQUIRE(::stat(path.c_str(), &st) == 0);
    BOOST_TEST(conn.file_inode() == static_cast<std::uint64_t>(st.st_ino));
    BOOST_TEST(conn.file_device() == static_cast<std::uint64_t>(st.st_dev));
    BOOST_TEST(!conn.file_moved());
    conn.exec("INSERT INTO t VALUES(2)");
    BOOST_TEST(sqlpool_test::count(conn, "t") == 2);
    BOOST_TEST(conn.broken_code() == 0);
}

BOOST_AUTO_TEST_CASE(a_commit_into_a_deleted_file_fails_with_database_moved_error) {
    std::filesystem::remove(path);
    BOOST_TEST(conn.file_moved());
    const auto e = thrown<sqlpool::database_moved_error>([&] { conn.exec("INSERT INTO t VALUES(2)"); });
    BOOST_REQUIRE(e.has_value());
    BOOST_TEST(e->code() == sqlpool::result_code::readonly);
    BOOST_TEST(e->extended_code() == sqlpool::result_code::readonly_dbmoved);
    BOOST_TEST(e->sql() == "INSERT INTO t VALUES(2)");
    BOOST_TEST(contains(e->what(), "deleted or replaced"), e->what());
    BOOST_TEST(contains(e->what(), "nothing was written"), e->what());
    BOOST_TEST(conn.broken_code() == sqlpool::result_code::readonly_dbmoved);
}

BOOST_AUTO_TEST_CASE(a_file_renamed_over_the_database_is_noticed_and_left_untouched) {
    replace();
    BOOST_TEST(conn.file_moved());
    BOOST_CHECK_THROW(conn.exec("CREATE TABLE more(v)"), sqlpool::database_moved_error);
    conn = sqlpool::connection{":memory:"}; // closes the connection to the old file
    sqlpool::connection now{options_at(path)};
    BOOST_TEST(now.query_value<std::int64_t>("SELECT count(*) FROM sqlite_schema WHERE name = 'restored'") ==
               1);
    BOOST_TEST(now.query_value<std::int64_t>("SELECT count(*) FROM sqlite_schema WHERE name <> 'restored'") ==
               0);
}

BOOST_AUTO_TEST_CASE(an_open_transaction_cannot_commit_into_the_old_file) {
    conn.exec("BEGIN");
    conn.exec("INSERT INTO t VALUES(2)");
    replace();
    BOOST_CHECK_THROW(conn.exec("COMMIT"), sqlpool::database_moved_error);
    BOOST_TEST(!conn.in_transaction()); // the commit became a rollback
    BOOST_TEST(conn.broken_code() == sqlpool::result_code::readonly_dbmoved);
}

BOOST_AUTO_TEST_CASE(reading_the_old_file_is_not_refused) {
    std::filesystem::remove(path);
    BOOST_TEST(conn.file_moved());
    BOOST_TEST(sqlpool_test::count(conn, "t") == 1); // a read commits nothing
    BOOST_TEST(conn.broken_code() == 0);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_CASE(an_in_memory_database_has_no_file_to_watch) {
    sqlpool::connection memory{":memory:"};
    BOOST_TEST(memory.file_inode() == 0u);
    BOOST_TEST(memory.file_device() == 0u);
    BOOST_TEST(!memory.file_moved());
    memory.exec("CREATE TABLE t(v); INSERT INTO t VALUES(1);");
    BOOST_TEST(sqlpool_test::count(memory, "t") == 1);
}
