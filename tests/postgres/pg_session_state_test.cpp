// changes_session: which statement texts may leave session state for the next borrower (and so
// cost a DISCARD ALL on return). A false "changes" costs a round trip; a false "plain" leaks state,
// so every doubt answers "changes".
#define BOOST_TEST_MODULE pg_session_state
#include <boost/test/unit_test.hpp>

import sqlpool.postgres;

namespace pg = sqlpool::postgres;

BOOST_AUTO_TEST_CASE(plain_statements_leave_nothing) {
    for (const char* sql : {"SELECT v FROM t WHERE id = $1", "  insert into t values ($1)",
                            "UPDATE t SET v = 1", "DELETE FROM t", "WITH x AS (SELECT 1) SELECT * FROM x",
                            "BEGIN ISOLATION LEVEL SERIALIZABLE", "COMMIT", "ROLLBACK", "SAVEPOINT a",
                            "RELEASE SAVEPOINT a", "ROLLBACK TO SAVEPOINT a; RELEASE SAVEPOINT a",
                            "-- note\nSELECT 1", "/* c */ SELECT 1", "", "  ;  "})
        BOOST_TEST(!pg::changes_session(sql), sql);
}

BOOST_AUTO_TEST_CASE(session_changers_are_seen) {
    for (const char* sql :
         {"SET search_path = evil", "set role nobody", "RESET ALL", "CREATE TEMP TABLE x (a int)",
          "CREATE TABLE t (a int)", "PREPARE p AS SELECT 1", "LISTEN ch",
          "DECLARE c CURSOR WITH HOLD FOR SELECT 1", "SELECT set_config('search_path', 'evil', false)",
          "SELECT pg_advisory_lock(1)", "SELECT 1 INTO TEMP t2", "SELECT * INTO t3 FROM t",
          "DO $$ BEGIN END $$", "CALL p()", "DISCARD ALL", "SELECT 1; SET work_mem = '1GB'", "(SELECT 1)",
          "LOAD 'auto_explain'"})
        BOOST_TEST(pg::changes_session(sql), sql);
}
