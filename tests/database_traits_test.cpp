// database_traits<sqlite_source>: what the service and the manager ask of a SQLite database, called
// directly: the key every spelling of a file shares, the config a service may not create with,
// migrations recorded in PRAGMA user_version, the schema's missing parts named, the watched file.
#define BOOST_TEST_MODULE database_traits
#include <boost/test/unit_test.hpp>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "support/scratch_dir.hpp"

import sqlpool;

using traits = sqlpool::database_traits<sqlpool::sqlite_source>;

namespace {

struct fixture {
    sqlpool_test::scratch_dir dir{"database-traits"};
    std::string path = dir.file("t.db");

    [[nodiscard]] sqlpool::pool_config config() const {
        sqlpool::pool_config c;
        c.database = path;
        c.max_connections = 2;
        c.background_maintenance = false;
        return c;
    }
};

} // namespace

BOOST_FIXTURE_TEST_CASE(every_spelling_of_a_file_has_one_key, fixture) {
    const std::filesystem::path p(path);
    const std::string dotted = (p.parent_path() / "." / ".." / p.parent_path().filename() / "t.db").string();
    BOOST_TEST(traits::key(dotted) == traits::key(path));
    const auto link = dir.file("link.db");
    std::filesystem::create_symlink(path, link); // to a file not there yet: resolved as far as it exists
    {
        sqlpool::pool pool(config());
    }
    BOOST_TEST(traits::key(link) == traits::key(path));
    BOOST_TEST(traits::key(":memory:") == ":memory:");
    BOOST_TEST(traits::key("file:x?mode=memory") == "file:x?mode=memory");
    BOOST_TEST(traits::key(dir.file("other.db")) != traits::key(path));
}

BOOST_FIXTURE_TEST_CASE(a_missing_file_that_may_not_be_created_is_a_schema_error, fixture) {
    BOOST_CHECK_THROW((void)traits::prepare(config(), false), sqlpool::schema_error);
    BOOST_TEST(!std::filesystem::exists(path));
    BOOST_TEST((traits::prepare(config(), true).mode == sqlpool::open_mode::read_write_create));
    {
        sqlpool::pool pool(config());
    }
    BOOST_TEST((traits::prepare(config(), false).mode == sqlpool::open_mode::read_write));
}

BOOST_FIXTURE_TEST_CASE(migrations_are_recorded_and_a_newer_file_refused, fixture) {
    sqlpool::pool pool(config());
    const std::vector<sqlpool::migration> migrations{{1, "t", "CREATE TABLE t (a)"},
                                                     {2, "row", "INSERT INTO t VALUES (1)"}};
    traits::migrate(pool, migrations, path);
    traits::migrate(pool, migrations, path);
    BOOST_TEST(traits::schema_version(pool) == 2);
    BOOST_TEST(pool.read([](sqlpool::connection& c) {
        return c.query_value<std::int64_t>("SELECT count(*) FROM t");
    }) == 1);
    const std::vector<sqlpool::migration> older{migrations.front()};
    BOOST_CHECK_THROW(traits::migrate(pool, older, path), sqlpool::schema_error);
    const std::vector<sqlpool::migration> failing{
        migrations[0], migrations[1], {3, "bad", "INSERT INTO nowhere VALUES (1)"}};
    BOOST_CHECK_THROW(traits::migrate(pool, failing, path), sqlpool::schema_error);
    BOOST_TEST(traits::schema_version(pool) == 2);
}

BOOST_FIXTURE_TEST_CASE(what_the_schema_lacks_is_named_and_the_file_watched, fixture) {
    sqlpool::pool pool(config());
    pool.write([](sqlpool::connection& c) { c.exec("CREATE TABLE t (a, b)"); });
    const std::vector<sqlpool::table_spec> tables{{"t", {"a", "c"}}, {"u", {}}};
    const auto missing = traits::missing(pool, tables);
    BOOST_TEST(missing == (std::vector<std::string>{"column 't.c'", "table 'u'"}),
               boost::test_tools::per_element());
    const auto watched = traits::watched(pool);
    BOOST_TEST(watched.name == std::filesystem::canonical(path).string());
    BOOST_TEST(watched.opened.known());
}
