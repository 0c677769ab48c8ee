// `import sqlpool;` must leak no SQLite macro, and the exported constants must carry SQLite's values.
#define BOOST_TEST_MODULE module
#include <boost/test/unit_test.hpp>

import sqlpool;

#if defined(SQLITE_OK) || defined(SQLITE_BUSY) || defined(SQLITE_ROW) || defined(SQLITE_OPEN_READWRITE) ||   \
    defined(SQLITE_VERSION) || defined(SQLITE_TRANSIENT) || defined(SQLITE_INTEGER) || defined(SQLITE_API)
#error "import sqlpool leaked an SQLite macro"
#endif

BOOST_AUTO_TEST_CASE(result_codes_match_sqlite) {
    static_assert(sqlpool::result_code::ok == 0);
    BOOST_TEST(sqlpool::result_code::busy == 5);
    BOOST_TEST(sqlpool::result_code::locked == 6);
    BOOST_TEST(sqlpool::result_code::notadb == 26);
    BOOST_TEST(sqlpool::result_code::row == 100);
    BOOST_TEST(sqlpool::result_code::done == 101);
    BOOST_TEST(sqlpool::result_code::busy_snapshot == (5 | (2 << 8)));
    BOOST_TEST(sqlpool::result_code::constraint_unique == (19 | (8 << 8)));
}

BOOST_AUTO_TEST_CASE(open_flags_match_sqlite) {
    BOOST_TEST(sqlpool::open_flag::read_only == 0x1);
    BOOST_TEST(sqlpool::open_flag::read_write == 0x2);
    BOOST_TEST(sqlpool::open_flag::create == 0x4);
    BOOST_TEST(sqlpool::open_flag::no_mutex == 0x8000);
    BOOST_TEST(sqlpool::open_flag::nofollow == 0x01000000);
}

BOOST_AUTO_TEST_CASE(runtime_library_is_recent_enough) {
    // NOFOLLOW (3.31), EXRESCODE (3.37) and the memdb VFS (3.36) are relied upon.
    BOOST_TEST(sqlpool::sqlite_version_number() >= 3037000);
}
