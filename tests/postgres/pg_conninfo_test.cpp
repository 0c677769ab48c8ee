// conninfo: parsed, changed and written back; passwords never shown; the reader and writer
// conninfos of a read/write split. No server needed.
#define BOOST_TEST_MODULE pg_conninfo
#include <boost/test/unit_test.hpp>

#include <string>

import sqlpool.postgres;

namespace pg = sqlpool::postgres;

namespace {
std::string value_of(const std::string& conninfo, const std::string& key) {
    for (const auto& [k, v] : pg::parse_conninfo(conninfo))
        if (k == key) return v;
    return "(unset)";
}
} // namespace

BOOST_AUTO_TEST_CASE(keyword_strings_and_uris_parse_alike) {
    BOOST_TEST(value_of("host=db port=6543 dbname=app", "port") == "6543");
    BOOST_TEST(value_of("postgresql://u@db:6543/app", "port") == "6543");
    BOOST_TEST(value_of("postgresql://u@db:6543/app", "dbname") == "app");
}

BOOST_AUTO_TEST_CASE(a_bad_conninfo_is_a_config_error_without_the_password) {
    try {
        (void)pg::parse_conninfo("host=db password=hunter2 nonsense");
        BOOST_FAIL("no error");
    } catch (const sqlpool::config_error& e) {
        BOOST_TEST(std::string(e.what()).find("hunter2") == std::string::npos);
    }
    BOOST_CHECK_THROW((void)pg::parse_conninfo("bogus_keyword=1"), sqlpool::config_error);
}

BOOST_AUTO_TEST_CASE(changes_replace_or_add_and_quoting_survives) {
    const std::string changed =
        pg::conninfo_with("host=db dbname='my app'", {{"dbname", "it's"}, {"port", "1"}});
    BOOST_TEST(value_of(changed, "dbname") == "it's");
    BOOST_TEST(value_of(changed, "port") == "1");
    BOOST_TEST(value_of(changed, "host") == "db");
}

BOOST_AUTO_TEST_CASE(described_without_password) {
    const std::string shown = pg::describe_conninfo("host=db password=hunter2 user=app");
    BOOST_TEST(shown.find("hunter2") == std::string::npos);
    BOOST_TEST(shown.find("app") != std::string::npos);
    BOOST_TEST(pg::describe_conninfo("password=x nonsense").find('x') == std::string::npos);
}

BOOST_AUTO_TEST_CASE(writer_asks_for_read_write_and_readers_for_standbys) {
    BOOST_TEST(value_of(pg::writer_conninfo("host=p port=1"), "target_session_attrs") == "read-write");
    const std::string none = pg::reader_conninfo("host=s port=2", "host=p port=1", pg::reader_fallback::none);
    BOOST_TEST(value_of(none, "target_session_attrs") == "standby");
    BOOST_TEST(value_of(none, "host") == "s");
    const std::string fallback =
        pg::reader_conninfo("host=s1,s2 port=2,3", "host=p port=1", pg::reader_fallback::primary);
    BOOST_TEST(value_of(fallback, "target_session_attrs") == "prefer-standby");
    BOOST_TEST(value_of(fallback, "host") == "s1,s2,p");
    BOOST_TEST(value_of(fallback, "port") == "2,3,1");
    BOOST_CHECK_THROW((void)pg::reader_conninfo("dbname=x", "host=p port=1", pg::reader_fallback::primary),
                      sqlpool::config_error);
}
