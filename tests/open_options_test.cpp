// open_options: opening a connection with safe defaults and the options that override them (modes,
// pragmas, limits, hardening, an authorizer), in-memory paths, and the names of the BEGIN modes.
#define BOOST_TEST_MODULE open_options
#include <boost/test/unit_test.hpp>

#include <sqlite3.h>
#include <sys/stat.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "support/enum_names.hpp"

#include "support/sqlite_helpers.hpp"

import sqlpool;

using namespace std::chrono_literals;

namespace {

using sqlpool_test::contains;
using sqlpool_test::file_db;
using sqlpool_test::misuse_message;
using sqlpool_test::temp_dir;
using sqlpool_test::thrown;

} // namespace

// ---------------------------------------------------------------------------------------------------
BOOST_AUTO_TEST_SUITE(opening)

BOOST_AUTO_TEST_CASE(opens_creates_and_closes_a_file_database) {
    temp_dir dir;
    const auto path = dir.file("a.db");
    {
        sqlpool::connection conn{path};
        BOOST_TEST(std::filesystem::exists(path));
        BOOST_TEST(conn.options().path == path);
        BOOST_TEST(conn.native_handle() != nullptr);
        BOOST_TEST(conn.broken_code() == 0);
        conn.exec("CREATE TABLE t(v INTEGER); INSERT INTO t VALUES(41), (1);");
    }
    // Closed: the data is on disk and a new connection sees it.
    sqlpool::connection again{sqlpool::open_options{.path = path, .mode = sqlpool::open_mode::read_write}};
    BOOST_TEST(again.query_value<std::int64_t>("SELECT sum(v) FROM t") == 42);
}

BOOST_AUTO_TEST_CASE(file_defaults_are_applied) {
    file_db db;
    auto& conn = db.conn;
    BOOST_TEST(conn.query_value<std::string>("PRAGMA journal_mode") == "wal");
    BOOST_TEST(conn.query_value<std::int64_t>("PRAGMA foreign_keys") == 1);
    BOOST_TEST(conn.query_value<std::int64_t>("PRAGMA synchronous") == 1); // NORMAL
    BOOST_TEST(conn.query_value<std::int64_t>("PRAGMA trusted_schema") == 0);
    BOOST_TEST(conn.query_value<std::int64_t>("PRAGMA busy_timeout") == 2000);
    BOOST_TEST(!conn.read_only());
    BOOST_TEST(!conn.in_transaction());

    int defensive = -1;
    BOOST_TEST(sqlite3_db_config(conn.native_handle(), SQLITE_DBCONFIG_DEFENSIVE, -1, &defensive) ==
               SQLITE_OK);
    BOOST_TEST(defensive == 1);
    int extensions = -1;
    BOOST_TEST(sqlite3_db_config(conn.native_handle(), SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION, -1,
                                 &extensions) == SQLITE_OK);
    BOOST_TEST(extensions == 0);
    int trusted = -1;
    BOOST_TEST(sqlite3_db_config(conn.native_handle(), SQLITE_DBCONFIG_TRUSTED_SCHEMA, -1, &trusted) ==
               SQLITE_OK);
    BOOST_TEST(trusted == 0);
}

BOOST_AUTO_TEST_CASE(defensive_mode_ignores_writable_schema_and_refuses_extensions) {
    file_db db;
    // writable_schema reads back as set, but in defensive mode the schema table stays read-only.
    db.conn.exec("CREATE TABLE t(v); PRAGMA writable_schema=ON;");
    const auto schema =
        thrown<sqlpool::sqlite_error>([&] { db.conn.exec("UPDATE sqlite_schema SET name = name"); });
    BOOST_REQUIRE(schema.has_value());
    BOOST_TEST(contains(schema->sqlite_message(), "may not be modified"), schema->sqlite_message());
    const auto e = thrown<sqlpool::sqlite_error>(
        [&] { (void)db.conn.query_value<std::optional<std::string>>("SELECT load_extension('nope')"); });
    BOOST_REQUIRE(e.has_value());
    BOOST_TEST(contains(e->sqlite_message(), "not authorized"));
}

BOOST_AUTO_TEST_CASE(options_override_the_defaults) {
    temp_dir dir;
    sqlpool::connection conn{sqlpool::open_options{.path = dir.file("o.db"),
                                                   .busy_timeout = 123ms,
                                                   .journal = sqlpool::journal_mode::delete_journal,
                                                   .synchronous = sqlpool::synchronous_mode::full,
                                                   .foreign_keys = false}};
    BOOST_TEST(conn.query_value<std::string>("PRAGMA journal_mode") == "delete");
    BOOST_TEST(conn.query_value<std::int64_t>("PRAGMA synchronous") == 2); // FULL
    BOOST_TEST(conn.query_value<std::int64_t>("PRAGMA foreign_keys") == 0);
    BOOST_TEST(conn.query_value<std::int64_t>("PRAGMA busy_timeout") == 123);
    BOOST_TEST(conn.options().busy_timeout == 123ms);
}

BOOST_AUTO_TEST_CASE(memory_databases_keep_their_journal) {
    sqlpool::connection conn{":memory:"};
    BOOST_TEST(conn.query_value<std::string>("PRAGMA journal_mode") == "memory");
    BOOST_TEST(conn.query_value<std::int64_t>("PRAGMA foreign_keys") == 1);
    BOOST_TEST(sqlpool::is_memory_path(":memory:"));
    BOOST_TEST(sqlpool::is_memory_path("file::memory:?cache=shared"));
    BOOST_TEST(sqlpool::is_memory_path("file:db1?mode=memory&cache=shared"));
    BOOST_TEST(sqlpool::is_memory_path("file:/db?vfs=memdb"));
    BOOST_TEST(!sqlpool::is_memory_path("/tmp/app.db"));
    BOOST_TEST(!sqlpool::is_memory_path("file:app.db?mode=rwc"));
}

BOOST_AUTO_TEST_CASE(memory_paths_are_recognised_by_uri_parts_not_substrings) {
    BOOST_TEST(sqlpool::is_memory_path("file:x?cache=shared&mode=memory#frag"));
    BOOST_TEST(!sqlpool::is_memory_path("notes:memory:.db")); // a plain file name with a colon
    BOOST_TEST(!sqlpool::is_memory_path("file:log-of-mode=memory.db"));
    BOOST_TEST(!sqlpool::is_memory_path("file:app.db?vfs=memdbx"));
    BOOST_TEST(!sqlpool::is_memory_path("file:app.db?xmode=memory"));
    BOOST_TEST(sqlpool::uri_parameter("file:a.db?mode=ro&cache=shared", "cache").value_or("") == "shared");
    BOOST_TEST(sqlpool::uri_parameter("file:a.db?immutable", "immutable").value_or("-") == "");
    BOOST_TEST(!sqlpool::uri_parameter("file:a.db", "mode").has_value());
    BOOST_TEST(!sqlpool::uri_parameter("a.db?mode=ro", "mode").has_value()); // not a URI

    // A file whose name contains ":memory:" is a real file the pool creates and shares.
    temp_dir dir;
    const auto path = (dir.path() / "notes:memory:.db").string();
    {
        sqlpool::connection writer{path};
        writer.exec("CREATE TABLE t(x)");
    }
    BOOST_TEST(std::filesystem::exists(path));
    sqlpool::connection reader{path};
    BOOST_TEST(reader.query_value<std::int64_t>("SELECT count(*) FROM t") == 0);
}

BOOST_AUTO_TEST_CASE(user_pragmas_apply_after_the_defaults) {
    temp_dir dir;
    sqlpool::connection conn{sqlpool::open_options{
        .path = dir.file("p.db"), .pragmas = {{"cache_size", "-4000"}, {"synchronous", "OFF"}}}};
    BOOST_TEST(conn.query_value<std::int64_t>("PRAGMA cache_size") == -4000);
    BOOST_TEST(conn.query_value<std::int64_t>("PRAGMA synchronous") == 0); // overrides NORMAL
}

BOOST_AUTO_TEST_CASE(bad_pragmas_are_refused_before_opening) {
    temp_dir dir;
    const auto path = dir.file("p.db");
    const std::vector<std::pair<std::string, std::string>> bad = {{"cache_size; DROP TABLE x", "1"},
                                                                  {"", "1"},
                                                                  {"cache size", "1"},
                                                                  {"cache_size", ""},
                                                                  {"cache_size", "1;"},
                                                                  {"cache_size", "'1'"},
                                                                  {"main.cache_size", "1"},
                                                                  {"cache_size", "1 OR 1"}};
    for (const auto& pragma : bad) {
        const auto what = misuse_message(
            [&] { sqlpool::connection conn{sqlpool::open_options{.path = path, .pragmas = {pragma}}}; });
        BOOST_TEST(contains(what, "pragma"),
                   "pragma '" << pragma.first << "=" << pragma.second << "': " << what);
    }
    BOOST_TEST(!std::filesystem::exists(path));
}

BOOST_AUTO_TEST_CASE(an_empty_path_is_a_misuse) {
    BOOST_CHECK_THROW(sqlpool::connection(std::string{}), sqlpool::misuse_error);
    BOOST_CHECK_THROW(sqlpool::connection(sqlpool::open_options{}), sqlpool::misuse_error);
}

BOOST_AUTO_TEST_CASE(a_missing_directory_is_cantopen) {
    temp_dir dir;
    const auto path = dir.file("no/such/dir/x.db");
    const auto e = thrown<sqlpool::sqlite_error>([&] { sqlpool::connection conn{path}; });
    BOOST_REQUIRE(e.has_value());
    BOOST_TEST(e->code() == sqlpool::result_code::cantopen);
    BOOST_TEST(contains(e->what(), "no/such/dir"));
    BOOST_TEST(!std::filesystem::exists(dir.path() / "no"));
}

BOOST_AUTO_TEST_CASE(read_write_mode_does_not_create) {
    temp_dir dir;
    const auto path = dir.file("absent.db");
    const auto e = thrown<sqlpool::sqlite_error>([&] {
        sqlpool::connection conn{sqlpool::open_options{.path = path, .mode = sqlpool::open_mode::read_write}};
    });
    BOOST_REQUIRE(e.has_value());
    BOOST_TEST(e->code() == sqlpool::result_code::cantopen);
    BOOST_TEST(!std::filesystem::exists(path));
}

BOOST_AUTO_TEST_CASE(a_file_that_is_not_a_database_is_notadb) {
    temp_dir dir;
    const auto path = dir.file("garbage.db");
    std::ofstream(path, std::ios::binary) << std::string(4096, 'x');
    const auto e = thrown<sqlpool::sqlite_error>([&] { sqlpool::connection conn{path}; });
    BOOST_REQUIRE(e.has_value());
    BOOST_TEST(e->code() == sqlpool::result_code::notadb);
}

BOOST_AUTO_TEST_CASE(nofollow_refuses_a_symlink) {
    temp_dir dir;
    const auto target = dir.file("target.db");
    {
        sqlpool::connection create{target};
    }
    const auto link = dir.path() / "link.db";
    std::filesystem::create_symlink(target, link);
    const auto e = thrown<sqlpool::sqlite_error>(
        [&] { sqlpool::connection conn{sqlpool::open_options{.path = link.string(), .nofollow = true}}; });
    BOOST_REQUIRE(e.has_value());
    BOOST_TEST(e->code() == sqlpool::result_code::cantopen);
    BOOST_TEST(e->extended_code() == sqlpool::result_code::cantopen_symlink);
    // Without nofollow the link opens; a regular file opens with nofollow.
    sqlpool::connection followed{link.string()};
    sqlpool::connection direct{sqlpool::open_options{.path = target, .nofollow = true}};
    BOOST_TEST(direct.query_value<std::int64_t>("SELECT 1") == 1);
}

BOOST_AUTO_TEST_CASE(read_only_connections_cannot_write) {
    file_db db;
    db.conn.exec("CREATE TABLE t(v)");
    sqlpool::connection reader{sqlpool::open_options{.path = db.path, .mode = sqlpool::open_mode::read_only}};
    BOOST_TEST(reader.read_only());
    BOOST_TEST(reader.query_value<std::int64_t>("SELECT count(*) FROM t") == 0);
    const auto e = thrown<sqlpool::sqlite_error>([&] { reader.exec("INSERT INTO t VALUES(1)"); });
    BOOST_REQUIRE(e.has_value());
    BOOST_TEST(e->code() == sqlpool::result_code::readonly);
    BOOST_TEST(reader.broken_code() == 0);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(hardening)

BOOST_AUTO_TEST_CASE(new_files_are_private_unless_configured) {
    const auto mode_of = [](const std::string& path) {
        struct stat st{};
        BOOST_REQUIRE(::stat(path.c_str(), &st) == 0);
        return st.st_mode & 0777u;
    };
    // The mode is the one configured whatever the process's umask: a strict one (CI's) does not
    // narrow 0640, an open one does not widen 0600.
    for (const mode_t mask : {mode_t{0077}, mode_t{0022}, mode_t{0}}) {
        BOOST_TEST_CONTEXT("umask 0" << std::oct << mask) {
            temp_dir dir;
            const mode_t saved = ::umask(mask);
            {
                sqlpool::connection conn{dir.file("private.db")};
            }
            {
                sqlpool::connection conn{
                    sqlpool::open_options{.path = dir.file("shared.db"), .file_mode = 0640}};
            }
            ::umask(saved);
            BOOST_TEST(mode_of(dir.file("private.db")) == 0600u);
            BOOST_TEST(mode_of(dir.file("shared.db")) == 0640u);
        }
    }
}

BOOST_AUTO_TEST_CASE(defensive_and_trusted_schema_can_be_switched) {
    temp_dir dir;
    sqlpool::connection relaxed{
        sqlpool::open_options{.path = dir.file("r.db"), .defensive = false, .trusted_schema = true}};
    int defensive = -1;
    BOOST_TEST(sqlite3_db_config(relaxed.native_handle(), SQLITE_DBCONFIG_DEFENSIVE, -1, &defensive) ==
               SQLITE_OK);
    BOOST_TEST(defensive == 0);
    BOOST_TEST(relaxed.query_value<std::int64_t>("PRAGMA trusted_schema") == 1);
}

BOOST_AUTO_TEST_CASE(limits_are_applied) {
    temp_dir dir;
    sqlpool::connection limited{sqlpool::open_options{
        .path = dir.file("l.db"), .limits = {{sqlpool::limit::length, 1000}, {sqlpool::limit::attached, 0}}}};
    BOOST_TEST(sqlite3_limit(limited.native_handle(), SQLITE_LIMIT_LENGTH, -1) == 1000);
    BOOST_CHECK_THROW((void)limited.query_value<std::vector<std::byte>>("SELECT randomblob(2000)"),
                      sqlpool::sqlite_error);
    BOOST_CHECK_THROW(limited.exec("ATTACH ':memory:' AS other"), sqlpool::sqlite_error);
}

BOOST_AUTO_TEST_CASE(authorizer_is_consulted_and_a_throwing_one_denies) {
    temp_dir dir;
    int seen = 0;
    sqlpool::connection guarded{
        sqlpool::open_options{.path = dir.file("a.db"),
                              .authorizer = [&seen](int action, std::string_view first, std::string_view,
                                                    std::string_view, std::string_view) {
                                  ++seen;
                                  if (action == SQLITE_DELETE) return sqlpool::authorizer_result::deny;
                                  if (first == "boom") throw std::runtime_error("authorizer failed");
                                  return sqlpool::authorizer_result::ok;
                              }}};
    guarded.exec("CREATE TABLE t(v); INSERT INTO t VALUES(1);");
    BOOST_TEST(seen > 0);
    BOOST_CHECK_THROW(guarded.exec("DELETE FROM t"), sqlpool::sqlite_error);
    BOOST_CHECK_THROW(guarded.exec("CREATE TABLE boom(v)"), sqlpool::sqlite_error);
    BOOST_TEST(guarded.query_value<std::int64_t>("SELECT count(*) FROM t") == 1);
    // sqlpool's own bookkeeping still runs alongside the user's authorizer.
    guarded.exec("PRAGMA cache_size = 10");
    BOOST_TEST(guarded.settings_changed());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_CASE(fts3_tokenizer_pointers_are_refused) {
    // fts3_tokenizer(name, pointer) would let SQL text register a tokenizer at any address.
    temp_dir dir;
    sqlpool::connection conn{dir.file("f.db")};
    int enabled = -1;
    BOOST_TEST(sqlite3_db_config(conn.native_handle(), SQLITE_DBCONFIG_ENABLE_FTS3_TOKENIZER, -1, &enabled) ==
               SQLITE_OK);
    BOOST_TEST(enabled == 0);
    BOOST_CHECK_THROW(conn.exec("SELECT fts3_tokenizer('evil', x'4141414141414141')"), sqlpool::sqlite_error);
}

BOOST_AUTO_TEST_CASE(every_isolation_level_has_a_name) {
    const auto name = [](sqlpool::isolation_level level) { return std::string(sqlpool::to_string(level)); };
    BOOST_TEST(sqlpool_test::every_value_named<sqlpool::isolation_level>(3, name));
    BOOST_TEST(name(sqlpool::isolation_level::immediate) == "immediate");
}
