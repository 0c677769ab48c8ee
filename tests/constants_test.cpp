// constants: SQLite's result codes and open flags as typed constants, since SQLite's macros do not
// cross `import`. The tests use them where SQLite reads or reports them, through its C API.
#define BOOST_TEST_MODULE constants
#include <boost/test/unit_test.hpp>

#include <sqlite3.h>

#include <filesystem>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "support/temp_dir.hpp"

import sqlpool;

namespace {

namespace rc = sqlpool::result_code;
namespace flag = sqlpool::open_flag;

// Opens `path` with sqlite3_open_v2 and `flags`; returns the result code and closes the handle.
int open_with(const std::string& path, int flags) {
    sqlite3* db = nullptr;
    const int code = sqlite3_open_v2(path.c_str(), &db, flags, nullptr);
    const int extended = db != nullptr ? sqlite3_extended_errcode(db) : code;
    sqlite3_close_v2(db);
    return code == SQLITE_OK ? code : extended;
}

} // namespace

BOOST_AUTO_TEST_CASE(primary_codes_are_distinct_and_fit_in_a_byte) {
    const std::vector<int> primary{
        rc::ok,       rc::error,    rc::internal,  rc::perm,   rc::abort,      rc::busy,     rc::locked,
        rc::nomem,    rc::readonly, rc::interrupt, rc::ioerr,  rc::corrupt,    rc::notfound, rc::full,
        rc::cantopen, rc::protocol, rc::schema,    rc::toobig, rc::constraint, rc::mismatch, rc::misuse,
        rc::auth,     rc::range,    rc::notadb,    rc::row,    rc::done};
    BOOST_TEST(std::set<int>(primary.begin(), primary.end()).size() == primary.size());
    for (const int code : primary) BOOST_TEST((code >= 0 && code <= 0xff), code);
}

BOOST_AUTO_TEST_CASE(each_extended_code_carries_its_primary_code_in_the_low_byte) {
    const std::vector<std::pair<int, int>> extended{
        {rc::busy_snapshot, rc::busy},
        {rc::busy_timeout, rc::busy},
        {rc::ioerr_read, rc::ioerr},
        {rc::ioerr_write, rc::ioerr},
        {rc::ioerr_fsync, rc::ioerr},
        {rc::cantopen_symlink, rc::cantopen},
        {rc::constraint_unique, rc::constraint},
        {rc::constraint_primarykey, rc::constraint},
        {rc::constraint_foreignkey, rc::constraint},
        {rc::constraint_notnull, rc::constraint},
        {rc::constraint_check, rc::constraint},
        {rc::readonly_dbmoved, rc::readonly},
    };
    std::set<int> seen;
    for (const auto& [code, primary] : extended) {
        BOOST_TEST((code & 0xff) == primary, code);
        BOOST_TEST(code != primary, code);
        BOOST_TEST(seen.insert(code).second, code);
    }
}

BOOST_AUTO_TEST_CASE(the_version_is_the_runtime_librarys) {
    BOOST_TEST(sqlpool::sqlite_version_number() == sqlite3_libversion_number());
    sqlpool::connection conn{":memory:"};
    const auto text = conn.query_value<std::string>("SELECT sqlite_version()"); // "3.45.1"
    const auto first = text.find('.');
    const auto second = text.find('.', first + 1);
    BOOST_REQUIRE(second != std::string::npos);
    const int number = std::stoi(text.substr(0, first)) * 1'000'000 +
                       std::stoi(text.substr(first + 1, second - first - 1)) * 1'000 +
                       std::stoi(text.substr(second + 1));
    BOOST_TEST(sqlpool::sqlite_version_number() == number);
}

BOOST_AUTO_TEST_CASE(open_flags_open_as_named) {
    sqlpool_test::temp_dir dir;
    const auto path = dir.file("f.db");
    BOOST_TEST((open_with(path, flag::read_write) & 0xff) == rc::cantopen); // no create flag
    BOOST_TEST(!std::filesystem::exists(path));
    BOOST_TEST(open_with(path, flag::read_write | flag::create | flag::no_mutex) == rc::ok);
    BOOST_TEST(std::filesystem::exists(path));

    sqlite3* reader = nullptr;
    BOOST_REQUIRE(sqlite3_open_v2(path.c_str(), &reader, flag::read_only | flag::extended_result_codes,
                                  nullptr) == rc::ok);
    BOOST_TEST(sqlite3_db_readonly(reader, "main") == 1);
    BOOST_TEST(sqlite3_exec(reader, "CREATE TABLE t(v)", nullptr, nullptr, nullptr) == rc::readonly);
    sqlite3_close_v2(reader);

    const auto link = dir.path() / "link.db";
    std::filesystem::create_symlink(path, link);
    BOOST_TEST(open_with(link.string(), flag::read_write | flag::nofollow | flag::extended_result_codes) ==
               rc::cantopen_symlink);
    BOOST_TEST(open_with("file:" + path + "?mode=ro", flag::read_write | flag::uri) == rc::ok);
    BOOST_TEST(open_with("file:/db?vfs=memdb", flag::read_write | flag::create | flag::uri | flag::memory) ==
               rc::ok);
}
