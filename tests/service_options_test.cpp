// service_options: database_options from text and the environment (the pool's keys, create_if_missing,
// migrations=DIR, table.NAME=COLUMNS), every problem in one config_error; migrations_from_directory()
// on real directories; and the service started from a parsed text on a real file, twice.
#define BOOST_TEST_MODULE service_options
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <tuple>
#include <vector>

#include <unistd.h>

#include "support/scratch_dir.hpp"
#include "support/thrown.hpp"

import sqlpool;

namespace {

void write_file(const std::filesystem::path& path, const std::string& text) {
    std::ofstream(path, std::ios::binary) << text;
}

// The problems of the config_error `f` throws (none: it threw none).
template <class F>
std::vector<std::string> problems_of(F&& f) {
    const auto e = sqlpool_test::thrown<sqlpool::config_error>(std::forward<F>(f));
    return e ? e->problems() : std::vector<std::string>{};
}

bool has_problem(const std::vector<std::string>& problems, const std::string& part) {
    return std::ranges::any_of(problems, [&](const auto& p) { return p.find(part) != std::string::npos; });
}

std::vector<std::string> table_names(const sqlpool::database_options& o) {
    std::vector<std::string> names;
    for (const auto& t : o.schema.tables) names.push_back(t.name);
    return names;
}

std::string quoted(const std::filesystem::path& path) {
    return "\"" + path.string() + "\"";
}

} // namespace

BOOST_AUTO_TEST_SUITE(text)

BOOST_AUTO_TEST_CASE(every_key_parses) {
    const auto o = sqlpool::database_options::parse(
        "database=a.db max_connections=3 busy_timeout=250ms create_if_missing=false "
        "table.users=id,name,email table.audit= table.Notes=\" id , body \"");
    BOOST_TEST(o.pool.database == "a.db");
    BOOST_TEST(o.pool.max_connections == 3U);
    BOOST_TEST(!o.create_if_missing);
    BOOST_TEST((table_names(o) == std::vector<std::string>{"users", "audit", "Notes"}));
    BOOST_TEST((o.schema.tables[0].columns == std::vector<std::string>{"id", "name", "email"}));
    BOOST_TEST(o.schema.tables[1].columns.empty());
    BOOST_TEST((o.schema.tables[2].columns == std::vector<std::string>{"id", "body"}));
    BOOST_TEST(o.schema.migrations.empty());
}

BOOST_AUTO_TEST_CASE(the_pool_keys_read_as_pool_config_reads_them) {
    const std::string text = "database=a.db min_connections=2 idle_timeout=90 pragma.cache_size=-2000";
    const auto o = sqlpool::database_options::parse(text);
    BOOST_TEST(o.pool.to_string() == sqlpool::pool_config::parse(text).to_string());
    BOOST_TEST(o.create_if_missing); // the default
    const auto on = sqlpool::database_options::parse("database=a.db create_if_missing=on");
    BOOST_TEST(on.create_if_missing);
}

BOOST_AUTO_TEST_CASE(over_a_base_the_text_wins_key_by_key) {
    sqlpool::database_options base{.pool = {.database = "base.db", .max_connections = 5},
                                   .schema = {.migrations = {{1, "one", "CREATE TABLE one(x)"}},
                                              .tables = {{"users", {"id"}}, {"kept", {"k"}}}},
                                   .create_if_missing = false};
    const auto o = sqlpool::database_options::parse("max_connections=2 table.USERS=id,name", base);
    BOOST_TEST(o.pool.database == "base.db");
    BOOST_TEST(o.pool.max_connections == 2U);
    BOOST_TEST(!o.create_if_missing);
    BOOST_TEST(o.schema.migrations.size() == 1U); // no migrations= in the text
    BOOST_TEST((table_names(o) == std::vector<std::string>{"kept", "USERS"}));
    BOOST_TEST((o.schema.tables[1].columns == std::vector<std::string>{"id", "name"}));
}

BOOST_AUTO_TEST_CASE(notes_and_the_lenient_mode_are_pool_configs) {
    const auto parsed = sqlpool::database_options::parse_with_notes("path=a.db colour=blue table.t=a",
                                                                    sqlpool::config_mode::lenient);
    BOOST_TEST(parsed.options.pool.database == "a.db");
    BOOST_TEST(has_problem(parsed.notes, "'path' is deprecated"));
    BOOST_TEST(has_problem(parsed.notes, "unknown key 'colour' ignored"));
    BOOST_TEST((table_names(parsed.options) == std::vector<std::string>{"t"}));
    const auto strict = problems_of([] {
        (void)sqlpool::database_options::parse_with_notes("database=a.db colour=blue",
                                                          sqlpool::config_mode::strict);
    });
    BOOST_TEST(has_problem(strict, "unknown key 'colour'"));
    BOOST_TEST(has_problem(strict,
                           "idle_upkeep_after, pragma.NAME, limit.NAME, create_if_missing, migrations, "
                           "table.NAME"));
}

// What each of a table of bad texts is answered with: a config_error naming the problem.
struct bad_text {
    std::string text;
    std::string named; // in what() and in one of problems()
};

const std::vector<bad_text> bad_texts{
    {"database=a.db create_if_missing=maybe", "create_if_missing: unknown value 'maybe'"},
    {"database=a.db create_if_missing=", "create_if_missing: unknown value ''"},
    {"database=a.db creat_if_missing=true", "unknown key 'creat_if_missing'"},
    {"database=a.db tables.users=id", "unknown key 'tables.users'"},
    {"database=a.db table=id", "unknown key 'table'"},
    {"database=a.db table.=id", "table.: the table needs a name"},
    {"database=a.db table.users=id,,name", "table.users: an empty column name in 'id,,name'"},
    {"database=a.db table.users=id,", "table.users: an empty column name in 'id,'"},
    {"database=a.db table.users=\"id, ,name\"", "table.users: an empty column name in 'id, ,name'"},
    {"database=a.db table.users=id,name,ID", "table.users: column 'ID' is listed twice"},
    {"database=a.db table.users=id table.USERS=name", "table.USERS: the table is declared twice"},
    {"database=a.db table.users=\"id,name", "table.users: the quoted value has no closing '\"'"},
    {"database=a.db migrations=", "migrations: needs a directory (migrations=DIR)"},
    {"database=a.db migrations=/nonexistent/sqlpool-migrations",
     "migrations directory '/nonexistent/sqlpool-migrations' does not exist"},
    {"database=a.db migrations=/nonexistent/a migrations=/nonexistent/b", "migrations: given twice"},
    {"database=a.db migrations", "'migrations' has no value (write key=value)"},
    {"create_if_missing=false table.users=id", "database is empty"},
    {"database=a.db max_connections=0 create_if_missing=false", "max_connections is 0, must be >= 1"},
};

BOOST_AUTO_TEST_CASE(every_bad_text_is_a_config_error_naming_its_problem) {
    for (const auto& row : bad_texts) {
        BOOST_TEST_CONTEXT("text: " << row.text) {
            try {
                (void)sqlpool::database_options::parse(row.text);
                BOOST_ERROR("accepted");
            } catch (const sqlpool::config_error& e) {
                BOOST_TEST(std::string(e.what()).find(row.named) != std::string::npos, e.what());
                BOOST_TEST(has_problem(e.problems(), row.named));
            }
        }
    }
}

BOOST_AUTO_TEST_CASE(every_problem_is_named_at_once) {
    const auto problems = problems_of([] {
        (void)sqlpool::database_options::parse("database=a.db create_if_missing=maybe table.=x "
                                               "migrations=/nonexistent/m idle_timeout=5x bogus=1");
    });
    BOOST_TEST(problems.size() == 6U); // five, and the valid keys
    for (const char* part :
         {"create_if_missing: unknown value", "table.: the table needs a name",
          "'/nonexistent/m' does not exist", "idle_timeout: unknown unit", "unknown key 'bogus'"})
        BOOST_TEST(has_problem(problems, part), part);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(environment)

BOOST_AUTO_TEST_CASE(every_key_reads_from_its_variable) {
    const sqlpool_test::scratch_dir dir{"options-env"};
    write_file(dir.path() / "0001_init.sql", "CREATE TABLE users(id, name)");
    ::setenv("SQLPOOLOPT_DATABASE", "e.db", 1);
    ::setenv("SQLPOOLOPT_CREATE_IF_MISSING", "off", 1);
    ::setenv("SQLPOOLOPT_MIGRATIONS", dir.path().c_str(), 1);
    ::setenv("SQLPOOLOPT_TABLE_USERS", "id,name", 1);
    ::setenv("SQLPOOLOPT_PRAGMA_CACHE_SIZE", "-2000", 1);
    const auto o = sqlpool::database_options::from_env("SQLPOOLOPT_");
    BOOST_TEST(o.pool.database == "e.db");
    BOOST_TEST(!o.create_if_missing);
    BOOST_TEST(o.schema.migrations.size() == 1U);
    BOOST_TEST((table_names(o) == std::vector<std::string>{"users"}));
    BOOST_TEST((o.schema.tables[0].columns == std::vector<std::string>{"id", "name"}));
    BOOST_TEST(o.pool.pragmas.size() == 1U);

    ::setenv("SQLPOOLOPT_TABLE_", "x", 1);
    ::setenv("SQLPOOLOPT_UNRELATED", "1", 1);
    const auto problems = problems_of([] { (void)sqlpool::database_options::from_env("SQLPOOLOPT_"); });
    BOOST_TEST(has_problem(problems, "SQLPOOLOPT_TABLE_: table.: the table needs a name"));
    BOOST_TEST(has_problem(problems, "SQLPOOLOPT_UNRELATED: unknown key 'unrelated'"));
    ::unsetenv("SQLPOOLOPT_TABLE_");
    const auto lenient =
        sqlpool::database_options::from_env_with_notes("SQLPOOLOPT_", sqlpool::config_mode::lenient);
    BOOST_TEST(has_problem(lenient.notes, "SQLPOOLOPT_UNRELATED: unknown key 'unrelated' ignored"));
    for (const char* name :
         {"SQLPOOLOPT_DATABASE", "SQLPOOLOPT_CREATE_IF_MISSING", "SQLPOOLOPT_MIGRATIONS",
          "SQLPOOLOPT_TABLE_USERS", "SQLPOOLOPT_PRAGMA_CACHE_SIZE", "SQLPOOLOPT_UNRELATED"})
        ::unsetenv(name);
}

BOOST_AUTO_TEST_SUITE_END()

namespace {

struct directory_fixture {
    sqlpool_test::scratch_dir dir{"migrations"};

    void file(const std::string& name, const std::string& text = "SELECT 1") const {
        write_file(dir.path() / name, text);
    }
    [[nodiscard]] std::vector<std::string> listed_problems() const {
        return problems_of([&] { (void)sqlpool::migrations_from_directory(dir.path()); });
    }
};

} // namespace

BOOST_FIXTURE_TEST_SUITE(migrations_directory, directory_fixture)

BOOST_AUTO_TEST_CASE(reads_each_file_by_number_and_passes_over_other_files) {
    file("0002_add_email.sql", "ALTER TABLE users ADD COLUMN email TEXT;\n");
    file("0001_create_users.sql", "CREATE TABLE users(id INTEGER PRIMARY KEY);\n");
    file("0003_index__email.sql", "CREATE INDEX users_email ON users(email);\n");
    file("README.md", "# how to write a migration");
    file("notes.txt");
    file("0004_draft.sql.bak");
    file(".gitkeep");
    file("._0004_resource_fork.sql", "\x01\x02");
    std::filesystem::create_directory(dir.path() / "archive");
    write_file(dir.path() / "archive" / "0004_old.sql", "SELECT 1");
    const auto m = sqlpool::migrations_from_directory(dir.path());
    BOOST_TEST_REQUIRE(m.size() == 3U);
    BOOST_TEST((std::tie(m[0].version, m[0].description) == std::tuple{1, std::string("create users")}));
    BOOST_TEST((std::tie(m[1].version, m[1].description) == std::tuple{2, std::string("add email")}));
    BOOST_TEST((std::tie(m[2].version, m[2].description) == std::tuple{3, std::string("index  email")}));
    BOOST_TEST(m[1].sql == "ALTER TABLE users ADD COLUMN email TEXT;\n");
}

BOOST_AUTO_TEST_CASE(orders_by_number_not_by_name) {
    for (int n = 1; n <= 11; ++n) file(std::to_string(n) + "_step.sql", "SELECT " + std::to_string(n));
    const auto m = sqlpool::migrations_from_directory(dir.path());
    BOOST_TEST_REQUIRE(m.size() == 11U);
    for (std::size_t i = 0; i < m.size(); ++i) {
        BOOST_TEST(m[i].version == static_cast<int>(i) + 1);
        BOOST_TEST(m[i].sql == "SELECT " + std::to_string(i + 1));
    }
}

BOOST_AUTO_TEST_CASE(a_gap_names_every_missing_number) {
    file("0001_a.sql");
    file("0003_c.sql");
    file("0006_f.sql");
    file("0010_j.sql");
    const auto problems = listed_problems();
    BOOST_TEST(problems.size() == 1U);
    BOOST_TEST(
        has_problem(problems, "lacks number 2, 4..5, 7..9: the files must be numbered 1..10 without a gap"));
    file("0002_b.sql");
    file("0004_d.sql");
    file("0005_e.sql");
    BOOST_TEST(has_problem(listed_problems(), "lacks number 7..9:"));
}

BOOST_AUTO_TEST_CASE(a_gap_at_the_start_is_a_gap) {
    file("0002_b.sql");
    BOOST_TEST(
        has_problem(listed_problems(), "lacks number 1: the files must be numbered 1..2 without a gap"));
}

BOOST_AUTO_TEST_CASE(a_repeated_number_names_its_files) {
    file("0001_a.sql");
    file("0002_c.sql");
    file("02_b.sql");
    file("0003_d.sql");
    const auto problems = listed_problems();
    BOOST_TEST(problems.size() == 1U);
    BOOST_TEST(has_problem(problems, "number 2 is used by more than one file: 0002_c.sql, 02_b.sql"));
}

BOOST_AUTO_TEST_CASE(every_misnamed_sql_file_is_named_with_the_other_problems) {
    const std::vector<std::string> misnamed{"init.sql",  "0001.sql",   "0001_.sql", "_x.sql",
                                            "abc_1.sql", "0002_b.SQL", "1x_y.sql",  "0004-d.sql"};
    for (const auto& name : misnamed) file(name);
    file("0000_zero.sql");
    file("99999999999_big.sql");
    file("0001_a.sql");
    file("0001_again.sql");
    file("0003_c.sql");
    const auto problems = listed_problems();
    for (const auto& name : misnamed)
        BOOST_TEST(has_problem(problems, name + "' is not named NNNN_description.sql"), name);
    BOOST_TEST(has_problem(problems, "0000_zero.sql' is numbered 0; migrations are numbered from 1"));
    BOOST_TEST(has_problem(problems, "99999999999_big.sql': the number is larger than 2147483647"));
    BOOST_TEST(has_problem(problems, "number 1 is used by more than one file: 0001_a.sql, 0001_again.sql"));
    BOOST_TEST(has_problem(problems, "lacks number 2:"));
    BOOST_TEST(problems.size() == misnamed.size() + 4);
}

BOOST_AUTO_TEST_CASE(an_empty_directory_is_refused) {
    BOOST_TEST(has_problem(listed_problems(), "holds no migration files (NNNN_description.sql)"));
    file("README.md");
    BOOST_TEST(has_problem(listed_problems(), "holds no migration files"));
    file("0001_a.sql");
    BOOST_TEST(listed_problems().empty());
}

BOOST_AUTO_TEST_CASE(a_missing_directory_or_a_file_is_named) {
    const auto missing = dir.path() / "nowhere";
    BOOST_TEST(has_problem(problems_of([&] { (void)sqlpool::migrations_from_directory(missing); }),
                           "migrations directory '" + missing.string() + "' does not exist"));
    file("plain");
    BOOST_TEST(
        has_problem(problems_of([&] { (void)sqlpool::migrations_from_directory(dir.path() / "plain"); }),
                    "plain' is not a directory"));
}

BOOST_AUTO_TEST_CASE(an_unreadable_file_is_named) {
    file("0001_a.sql");
    std::filesystem::create_symlink(dir.path() / "gone.sql", dir.path() / "0002_dangling.sql");
    std::filesystem::create_directory(dir.path() / "0003_a_directory.sql");
    file("0004_nul.sql", std::string("CREATE TABLE t(x);\0DROP TABLE users;", 36));
    const auto problems = listed_problems();
    BOOST_TEST(has_problem(problems, "0002_dangling.sql' cannot be read: No such file or directory"));
    BOOST_TEST(has_problem(problems, "0003_a_directory.sql' cannot be read: Is a directory"));
    BOOST_TEST(has_problem(problems, "0004_nul.sql' contains a NUL byte (at offset 18)"));
    BOOST_TEST(problems.size() == 3U);
}

BOOST_AUTO_TEST_CASE(an_unreadable_file_or_directory_without_permission_is_named) {
    if (::geteuid() == 0) {
        BOOST_TEST_MESSAGE("skipped: root reads files without permission");
        return;
    }
    file("0001_a.sql");
    std::filesystem::permissions(dir.path() / "0001_a.sql", std::filesystem::perms::none);
    BOOST_TEST(has_problem(listed_problems(), "0001_a.sql' cannot be read: Permission denied"));
    const auto locked = dir.path() / "locked";
    std::filesystem::create_directory(locked);
    std::filesystem::permissions(locked, std::filesystem::perms::none);
    BOOST_TEST(has_problem(problems_of([&] { (void)sqlpool::migrations_from_directory(locked); }),
                           "locked' cannot be read: Permission denied"));
    std::filesystem::permissions(locked, std::filesystem::perms::owner_all);
}

BOOST_AUTO_TEST_SUITE_END()

namespace {

// A file database, migrations directories v1 (users, then email) and v2 (v1 and posts); each
// migration also records itself in `applied`, so that one applied twice shows.
struct service_fixture {
    sqlpool_test::scratch_dir dir{"options-service"};
    std::filesystem::path database = dir.path() / "app.db";
    std::filesystem::path v1 = dir.path() / "v1";
    std::filesystem::path v2 = dir.path() / "v2";

    service_fixture() {
        std::filesystem::create_directories(v1);
        write_file(v1 / "0001_create_users.sql", "CREATE TABLE applied(version INTEGER NOT NULL);\n"
                                                 "CREATE TABLE users(id INTEGER PRIMARY KEY, name TEXT);\n"
                                                 "INSERT INTO applied VALUES (1);\n");
        write_file(v1 / "0002_add_email.sql", "ALTER TABLE users ADD COLUMN email TEXT;\n"
                                              "INSERT INTO applied VALUES (2);\n");
        write_file(v1 / "README.md", "Migrations of the test application.");
        std::filesystem::copy(v1, v2);
        write_file(v2 / "0003_add_posts.sql", "CREATE TABLE posts(id INTEGER PRIMARY KEY, user_id INTEGER);\n"
                                              "INSERT INTO applied VALUES (3);\n");
    }

    [[nodiscard]] std::string text(const std::filesystem::path& migrations,
                                   const std::string& more = "") const {
        return "database=" + quoted(database) +
               " max_connections=2 background_maintenance=false migrations=" + quoted(migrations) +
               " table.users=id,name,email " + more;
    }
};

std::vector<std::int64_t> applied(sqlpool::database& db) {
    std::vector<std::int64_t> versions;
    for (const auto& [v] : db.query<std::int64_t>("SELECT version FROM applied ORDER BY rowid"))
        versions.push_back(v);
    return versions;
}

} // namespace

BOOST_FIXTURE_TEST_SUITE(end_to_end, service_fixture)

BOOST_AUTO_TEST_CASE(a_parsed_text_starts_the_service_and_each_migration_runs_once) {
    sqlpool::database first(sqlpool::database_options::parse(text(v1)));
    first.start();
    BOOST_TEST(first.schema_version() == 2);
    BOOST_TEST((applied(first) == std::vector<std::int64_t>{1, 2}));
    first.exec("INSERT INTO users(name, email) VALUES ('ada', 'ada@example.org')");
    first.stop();
    first.start(); // the same directory again: nothing to apply
    BOOST_TEST((applied(first) == std::vector<std::int64_t>{1, 2}));

    // A second service on the same file, with a newer directory, while the first still runs.
    sqlpool::database second(sqlpool::database_options::parse(text(v2, "table.posts=id,user_id")));
    second.start();
    BOOST_TEST(second.schema_version() == 3);
    BOOST_TEST((applied(second) == std::vector<std::int64_t>{1, 2, 3}));
    BOOST_TEST(second.query<std::string>("SELECT name FROM users").size() == 1U);
    BOOST_TEST(first.query<std::string>("SELECT email FROM users").size() == 1U); // still serving
    first.stop();
    second.stop();

    // The older program now meets a newer file: refused, and nothing is applied.
    const auto refused = sqlpool_test::thrown<sqlpool::schema_error>([&] { first.start(); });
    BOOST_TEST_REQUIRE(refused.has_value());
    BOOST_TEST(std::string(refused->what()).find("has schema version 3, newer than the 2") !=
               std::string::npos);
    second.start();
    BOOST_TEST((applied(second) == std::vector<std::int64_t>{1, 2, 3}));
}

BOOST_AUTO_TEST_CASE(a_failing_migration_file_leaves_nothing_of_itself) {
    write_file(v2 / "0003_add_posts.sql", "CREATE TABLE posts(id INTEGER PRIMARY KEY);\n"
                                          "INSERT INTO applied VALUES (3);\n"
                                          "INSERT INTO no_such_table VALUES (1);\n");
    sqlpool::database db(sqlpool::database_options::parse(text(v2)));
    const auto failed = sqlpool_test::thrown<sqlpool::schema_error>([&] { db.start(); });
    BOOST_TEST_REQUIRE(failed.has_value());
    BOOST_TEST(std::string(failed->what()).find("migration 3 (add posts) failed and was rolled back") !=
               std::string::npos);
    sqlpool::database older(sqlpool::database_options::parse(text(v1)));
    older.start();
    BOOST_TEST(older.schema_version() == 2);
    BOOST_TEST((applied(older) == std::vector<std::int64_t>{1, 2}));
    BOOST_TEST(older.query<std::int64_t>("SELECT 1 FROM sqlite_schema WHERE name = 'posts'").empty());
}

BOOST_AUTO_TEST_CASE(create_if_missing_false_from_text_keeps_a_missing_file_missing) {
    sqlpool::database db(sqlpool::database_options::parse(text(v1, "create_if_missing=false")));
    const auto refused = sqlpool_test::thrown<sqlpool::schema_error>([&] { db.start(); });
    BOOST_TEST_REQUIRE(refused.has_value());
    BOOST_TEST(std::string(refused->what()).find("does not exist and creating it is not allowed") !=
               std::string::npos);
    BOOST_TEST(!std::filesystem::exists(database));
}

BOOST_AUTO_TEST_CASE(a_declared_table_the_migrations_do_not_make_stops_the_start) {
    sqlpool::database db(sqlpool::database_options::parse(text(v1, "table.posts=id")));
    const auto refused = sqlpool_test::thrown<sqlpool::schema_error>([&] { db.start(); });
    BOOST_TEST_REQUIRE(refused.has_value());
    BOOST_TEST(std::string(refused->what()).find("lacks table 'posts'") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
