// `import sqlpool;` must leak no SQLite macro, and the exported constants must carry SQLite's values.
// This file must never include <sqlite3.h>: the point is that importers do not see it.
#define BOOST_TEST_MODULE module
#include <boost/test/unit_test.hpp>

import sqlpool;

#if defined(SQLITE3_H) || defined(_SQLITE3_H_) || defined(SQLITE_API) || defined(SQLITE_VERSION) ||          \
    defined(SQLITE_VERSION_NUMBER) || defined(SQLITE_SOURCE_ID)
#error "import sqlpool leaked <sqlite3.h>"
#endif
#if defined(SQLITE_OK) || defined(SQLITE_ERROR) || defined(SQLITE_BUSY) || defined(SQLITE_LOCKED) ||         \
    defined(SQLITE_CONSTRAINT) || defined(SQLITE_NOTADB) || defined(SQLITE_CANTOPEN) ||                      \
    defined(SQLITE_ROW) || defined(SQLITE_DONE) || defined(SQLITE_MISUSE) ||                                 \
    defined(SQLITE_BUSY_SNAPSHOT) || defined(SQLITE_CONSTRAINT_UNIQUE)
#error "import sqlpool leaked an SQLite result code macro"
#endif
#if defined(SQLITE_OPEN_READONLY) || defined(SQLITE_OPEN_READWRITE) || defined(SQLITE_OPEN_CREATE) ||        \
    defined(SQLITE_OPEN_NOMUTEX) || defined(SQLITE_OPEN_URI) || defined(SQLITE_OPEN_NOFOLLOW) ||             \
    defined(SQLITE_OPEN_EXRESCODE)
#error "import sqlpool leaked an SQLite open flag macro"
#endif
#if defined(SQLITE_TRANSIENT) || defined(SQLITE_STATIC) || defined(SQLITE_INTEGER) ||                        \
    defined(SQLITE_FLOAT) || defined(SQLITE_TEXT) || defined(SQLITE_BLOB) || defined(SQLITE_NULL) ||         \
    defined(SQLITE_UTF8) || defined(SQLITE_DBCONFIG_DEFENSIVE) || defined(SQLITE_PREPARE_PERSISTENT) ||      \
    defined(SQLITE_EXTERN) || defined(SQLITE_DEPRECATED) || defined(SQLITE_CDECL)
#error "import sqlpool leaked an SQLite macro"
#endif

BOOST_AUTO_TEST_CASE(primary_result_codes_match_sqlite) {
    static_assert(sqlpool::result_code::ok == 0); // the constants are usable at compile time
    BOOST_TEST(sqlpool::result_code::ok == 0);
    BOOST_TEST(sqlpool::result_code::error == 1);
    BOOST_TEST(sqlpool::result_code::abort == 4);
    BOOST_TEST(sqlpool::result_code::busy == 5);
    BOOST_TEST(sqlpool::result_code::locked == 6);
    BOOST_TEST(sqlpool::result_code::nomem == 7);
    BOOST_TEST(sqlpool::result_code::readonly == 8);
    BOOST_TEST(sqlpool::result_code::interrupt == 9);
    BOOST_TEST(sqlpool::result_code::ioerr == 10);
    BOOST_TEST(sqlpool::result_code::corrupt == 11);
    BOOST_TEST(sqlpool::result_code::full == 13);
    BOOST_TEST(sqlpool::result_code::cantopen == 14);
    BOOST_TEST(sqlpool::result_code::constraint == 19);
    BOOST_TEST(sqlpool::result_code::misuse == 21);
    BOOST_TEST(sqlpool::result_code::range == 25);
    BOOST_TEST(sqlpool::result_code::notadb == 26);
    BOOST_TEST(sqlpool::result_code::row == 100);
    BOOST_TEST(sqlpool::result_code::done == 101);
}

BOOST_AUTO_TEST_CASE(extended_result_codes_match_sqlite) {
    BOOST_TEST(sqlpool::result_code::busy_snapshot == (5 | (2 << 8)));
    BOOST_TEST(sqlpool::result_code::busy_timeout == (5 | (3 << 8)));
    BOOST_TEST(sqlpool::result_code::ioerr_read == (10 | (1 << 8)));
    BOOST_TEST(sqlpool::result_code::ioerr_write == (10 | (3 << 8)));
    BOOST_TEST(sqlpool::result_code::ioerr_fsync == (10 | (4 << 8)));
    BOOST_TEST(sqlpool::result_code::cantopen_symlink == (14 | (6 << 8)));
    BOOST_TEST(sqlpool::result_code::constraint_check == (19 | (1 << 8)));
    BOOST_TEST(sqlpool::result_code::constraint_foreignkey == (19 | (3 << 8)));
    BOOST_TEST(sqlpool::result_code::constraint_notnull == (19 | (5 << 8)));
    BOOST_TEST(sqlpool::result_code::constraint_primarykey == (19 | (6 << 8)));
    BOOST_TEST(sqlpool::result_code::constraint_unique == (19 | (8 << 8)));
    BOOST_TEST(sqlpool::result_code::readonly_dbmoved == (8 | (4 << 8)));
}

BOOST_AUTO_TEST_CASE(open_flags_match_sqlite) {
    BOOST_TEST(sqlpool::open_flag::read_only == 0x1);
    BOOST_TEST(sqlpool::open_flag::read_write == 0x2);
    BOOST_TEST(sqlpool::open_flag::create == 0x4);
    BOOST_TEST(sqlpool::open_flag::uri == 0x40);
    BOOST_TEST(sqlpool::open_flag::memory == 0x80);
    BOOST_TEST(sqlpool::open_flag::no_mutex == 0x8000);
    BOOST_TEST(sqlpool::open_flag::full_mutex == 0x10000);
    BOOST_TEST(sqlpool::open_flag::nofollow == 0x01000000);
    BOOST_TEST(sqlpool::open_flag::extended_result_codes == 0x02000000);
}

BOOST_AUTO_TEST_CASE(runtime_library_is_recent_enough) {
    const int version = sqlpool::sqlite_version_number();
    BOOST_TEST(version >= 3035000);
    // What sqlpool relies on: NOFOLLOW (3.31), the memdb VFS (3.36), EXRESCODE and changes64 (3.37).
    BOOST_TEST(version >= 3037000);
    BOOST_TEST(version < 4000000); // SQLite 3
}

BOOST_AUTO_TEST_CASE(the_imported_api_works_without_sqlite_headers) {
    sqlpool::connection conn{":memory:"};
    BOOST_TEST(conn.query_value<int>("SELECT ? + 1", 41) == 42);
    try {
        conn.exec("SELEKT");
        BOOST_FAIL("no error");
    } catch (const sqlpool::sqlite_error& e) {
        BOOST_TEST(e.code() == sqlpool::result_code::error);
    }
}
