// sqlstate: SQLSTATEs as int codes and back, what each calls for, and the exception each becomes.
#define BOOST_TEST_MODULE pg_sqlstate
#include <boost/test/unit_test.hpp>

#include <string>

import sqlpool.postgres;

namespace pg = sqlpool::postgres;

BOOST_AUTO_TEST_CASE(codes_round_trip_and_success_is_zero) {
    BOOST_TEST(pg::sqlstate_code("00000") == 0);
    for (const char* state : {"40001", "40P01", "08006", "57P01", "23505", "ZZZZZ", "0A000"}) {
        const int code = pg::sqlstate_code(state);
        BOOST_TEST(code > 0);
        BOOST_TEST(pg::sqlstate_text(code) == state);
    }
    BOOST_TEST(pg::sqlstate_code("40001") != pg::sqlstate_code("40P01"));
}

BOOST_AUTO_TEST_CASE(anything_but_five_digits_or_capitals_is_zero) {
    for (const char* bad : {"", "4000", "400011", "40p01", "40 01", "4000!"})
        BOOST_TEST(pg::sqlstate_code(bad) == 0);
}

BOOST_AUTO_TEST_CASE(serialization_retries_connection_classes_retire_the_rest_fail) {
    using sqlpool::error_action;
    BOOST_TEST((pg::classify_sqlstate("40001") == error_action::retry));
    BOOST_TEST((pg::classify_sqlstate("40P01") == error_action::retry));
    for (const char* state : {"08000", "08003", "08006", "08P01", "57P01", "57P02", "57P03"})
        BOOST_TEST((pg::classify_sqlstate(state) == error_action::retire), state);
    for (const char* state : {"23505", "42P01", "57014", "25006", "40002", "00000"})
        BOOST_TEST((pg::classify_sqlstate(state) == error_action::fail), state);
    // The session's classify() reads the same table through the int code.
    BOOST_TEST((pg::connection::classify(pg::sqlstate_code("40P01")) == error_action::retry));
    BOOST_TEST((pg::connection::classify(pg::sqlstate_code("57P01")) == error_action::retire));
    BOOST_TEST((pg::connection::classify(0) == error_action::fail));
}

BOOST_AUTO_TEST_CASE(each_class_throws_its_exception_with_the_sqlstate) {
    try {
        pg::throw_server_error("40001", "could not serialize access", "UPDATE t SET v = 1");
    } catch (const sqlpool::serialization_error& e) {
        BOOST_TEST(e.sqlstate() == "40001");
        BOOST_TEST(e.sql() == "UPDATE t SET v = 1");
    }
    BOOST_CHECK_THROW(pg::throw_server_error("57P01", "terminating connection", ""),
                      sqlpool::connection_lost_error);
    BOOST_CHECK_THROW(pg::throw_server_error("08006", "lost", ""), sqlpool::connection_lost_error);
    try {
        pg::throw_server_error("23505", "duplicate key", "INSERT");
    } catch (const sqlpool::serialization_error&) {
        BOOST_FAIL("a unique violation is not retryable");
    } catch (const sqlpool::connection_lost_error&) {
        BOOST_FAIL("a unique violation does not break the connection");
    } catch (const sqlpool::server_error& e) {
        BOOST_TEST(e.sqlstate() == "23505");
    }
}
