#define BOOST_TEST_MODULE errors
#include <boost/test/unit_test.hpp>

#include <stdexcept>
#include <string>
#include <vector>

import sqlpool;

BOOST_AUTO_TEST_CASE(busy_error_is_an_sqlite_error_is_an_error) {
    try {
        throw sqlpool::busy_error(sqlpool::result_code::busy_snapshot, "database is locked", "COMMIT");
    } catch (const sqlpool::sqlite_error& e) {
        BOOST_TEST(e.code() == sqlpool::result_code::busy);
        BOOST_TEST(e.extended_code() == sqlpool::result_code::busy_snapshot);
        BOOST_TEST(e.sqlite_message() == "database is locked");
        BOOST_TEST(e.sql() == "COMMIT");
        const std::string what = e.what();
        BOOST_TEST(what.find("COMMIT") != std::string::npos);
        BOOST_TEST(what.find("database is locked") != std::string::npos);
    }
    BOOST_CHECK_THROW(throw sqlpool::busy_error(5, "x", ""), sqlpool::error);
    BOOST_CHECK_THROW(throw sqlpool::misuse_error("x"), std::runtime_error);
    BOOST_CHECK_THROW(throw sqlpool::transaction_error("x"), sqlpool::error);
}

BOOST_AUTO_TEST_CASE(config_error_lists_every_problem) {
    const sqlpool::config_error e({"first is bad", "second is worse"});
    BOOST_TEST(e.problems().size() == 2u);
    BOOST_TEST(std::string(e.what()) == "invalid configuration: first is bad; second is worse");
}

BOOST_AUTO_TEST_CASE(sqlite_error_without_sql_has_no_sql_suffix) {
    const sqlpool::sqlite_error e(sqlpool::result_code::cantopen, "unable to open database file", "");
    BOOST_TEST(std::string(e.what()).find("[sql:") == std::string::npos);
    BOOST_TEST(e.code() == sqlpool::result_code::cantopen);
}
