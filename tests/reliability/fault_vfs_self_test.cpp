// The fault VFS itself: it forwards when disabled, and injects exactly what its rules say.
#include <boost/test/unit_test.hpp>

#include <sqlite3.h>

#include <atomic>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "support/fault_vfs.hpp"
#include "support/scratch_dir.hpp"

import sqlpool;

using namespace std::chrono_literals;
using sqlpool_test::fault;
using sqlpool_test::fault_vfs;
using sqlpool_test::io_call;

namespace {

struct fixture {
    fault_vfs& faults = fault_vfs::install();
    sqlpool_test::scratch_dir dir{"faultvfs"};
    std::string path = dir.file("f.db");

    fixture() {
        faults.clear();
        faults.reset_counters();
        faults.pass_syncs(true);
        faults.target_files(-1);
    }
    ~fixture() {
        faults.clear();
        faults.pass_syncs(true);
        faults.target_files(-1);
    }

    [[nodiscard]] sqlpool::connection open(sqlpool::journal_mode journal = sqlpool::journal_mode::wal) const {
        return sqlpool::connection(sqlpool::open_options{.path = path,
                                                         .busy_timeout = 0ms,
                                                         .journal = journal,
                                                         .synchronous = sqlpool::synchronous_mode::full});
    }

    // The extended code of the sqlite_error `fn` throws, or 0 when it does not throw.
    template <class F>
    static int error_of(F&& fn) {
        try {
            fn();
        } catch (const sqlpool::sqlite_error& e) {
            return e.extended_code();
        }
        return 0;
    }
};

} // namespace

BOOST_FIXTURE_TEST_SUITE(fault_vfs_self_test, fixture)

BOOST_AUTO_TEST_CASE(registered_as_the_default_and_forwards_when_disabled) {
    BOOST_TEST(&fault_vfs::install() == &faults);
    const sqlite3_vfs* current = sqlite3_vfs_find(nullptr);
    BOOST_REQUIRE(current != nullptr);
    BOOST_TEST(std::string(current->zName) == fault_vfs::vfs_name);

    auto conn = open();
    conn.exec("CREATE TABLE t(x); INSERT INTO t VALUES (1), (2), (3)");
    BOOST_TEST(conn.query_value<std::int64_t>("SELECT sum(x) FROM t") == 6);
    BOOST_TEST(faults.calls(io_call::open) >= 2u); // the database and its WAL
    BOOST_TEST(faults.calls(io_call::write) > 0u);
    BOOST_TEST(faults.calls(io_call::shm_lock) > 0u);
    BOOST_TEST(faults.injected_total() == 0u);
}

BOOST_AUTO_TEST_CASE(countdown_fails_exactly_the_nth_write_once) {
    auto conn = open();
    conn.exec("CREATE TABLE t(x)");
    faults.set(fault::write_ioerr, {.nth = 1});
    faults.enable();
    BOOST_TEST(error_of([&] { conn.exec("INSERT INTO t VALUES (1)"); }) == SQLITE_IOERR_WRITE);
    BOOST_TEST(faults.injected(fault::write_ioerr) == 1u);
    BOOST_TEST(faults.fired(fault::write_ioerr));
    BOOST_TEST((conn.broken_code() & 0xff) == SQLITE_IOERR);

    auto fresh = open(); // the countdown is spent: a new connection writes normally
    fresh.exec("INSERT INTO t VALUES (2)");
    BOOST_TEST(fresh.query_value<std::int64_t>("SELECT count(*) FROM t") == 1);
    BOOST_TEST(faults.injected(fault::write_ioerr) == 1u);
}

BOOST_AUTO_TEST_CASE(persistent_countdown_keeps_failing) {
    auto conn = open();
    conn.exec("CREATE TABLE t(x)");
    faults.set(fault::write_ioerr, {.nth = 1, .persistent = true});
    faults.enable();
    BOOST_TEST(error_of([&] { conn.exec("INSERT INTO t VALUES (1)"); }) == SQLITE_IOERR_WRITE);
    auto other = open();
    BOOST_TEST(error_of([&] { other.exec("INSERT INTO t VALUES (2)"); }) == SQLITE_IOERR_WRITE);
    BOOST_TEST(faults.injected(fault::write_ioerr) >= 2u);
    faults.disable();
    auto after = open();
    after.exec("INSERT INTO t VALUES (3)");
    BOOST_TEST(after.query_value<std::int64_t>("SELECT count(*) FROM t") == 1);
}

BOOST_AUTO_TEST_CASE(full_on_write_and_ioerr_on_sync_and_read) {
    {
        auto conn = open(sqlpool::journal_mode::delete_journal);
        conn.exec("CREATE TABLE t(x); INSERT INTO t VALUES (1)");
    }
    faults.set(fault::write_full, {.rate = 1.0});
    faults.enable();
    {
        auto conn = open(sqlpool::journal_mode::delete_journal);
        BOOST_TEST(error_of([&] { conn.exec("INSERT INTO t VALUES (2)"); }) == SQLITE_FULL);
    }
    faults.clear();
    faults.set(fault::sync_ioerr, {.rate = 1.0});
    faults.enable();
    {
        auto conn = open(sqlpool::journal_mode::delete_journal);
        BOOST_TEST((error_of([&] { conn.exec("INSERT INTO t VALUES (3)"); }) & 0xff) == SQLITE_IOERR);
        BOOST_TEST(faults.injected(fault::sync_ioerr) >= 1u);
    }
    faults.clear();
    auto conn = open(sqlpool::journal_mode::delete_journal);
    faults.set(fault::read_ioerr, {.rate = 1.0});
    faults.enable();
    BOOST_TEST(error_of([&] { (void)conn.query_value<std::int64_t>("SELECT count(*) FROM t"); }) ==
               SQLITE_IOERR_READ);
    faults.clear();
    auto check = open(sqlpool::journal_mode::delete_journal);
    BOOST_TEST(check.query_value<std::int64_t>("SELECT count(*) FROM t") == 1);
    BOOST_TEST(check.query_value<std::string>("PRAGMA integrity_check") == "ok");
}

// Rollback-journal mode: the file lock (xLock) is what fails. (In WAL mode a read lock that is
// busy every time makes SQLite retry 100 times and give up with SQLITE_PROTOCOL, by design.)
BOOST_AUTO_TEST_CASE(busy_on_locks_surfaces_as_busy_error) {
    {
        auto conn = open(sqlpool::journal_mode::delete_journal);
        conn.exec("CREATE TABLE t(x)");
    }
    auto conn = open(sqlpool::journal_mode::delete_journal);
    faults.set(fault::lock_busy, {.rate = 1.0});
    faults.enable();
    BOOST_CHECK_THROW((void)conn.query_value<std::int64_t>("SELECT count(*) FROM t"), sqlpool::busy_error);
    BOOST_TEST(faults.injected(fault::lock_busy) >= 1u);
}

BOOST_AUTO_TEST_CASE(target_mask_spares_other_files) {
    auto conn = open();
    conn.exec("CREATE TABLE t(x)");
    faults.target_files(SQLITE_OPEN_TEMP_DB); // this test never opens one
    faults.set(fault::write_ioerr, {.rate = 1.0});
    faults.enable();
    conn.exec("INSERT INTO t VALUES (1)");
    BOOST_TEST(faults.injected_total() == 0u);
    faults.target_files(SQLITE_OPEN_WAL);
    BOOST_TEST(error_of([&] { conn.exec("INSERT INTO t VALUES (2)"); }) == SQLITE_IOERR_WRITE);
}

BOOST_AUTO_TEST_CASE(rate_is_seeded_and_roughly_right) {
    faults.set(fault::read_ioerr, {.rate = 0.25});
    const auto draw = [&] {
        std::vector<bool> pattern;
        for (int i = 0; i < 100'000; ++i) pattern.push_back(faults.should_fail(fault::read_ioerr));
        return pattern;
    };
    faults.seed(42);
    const auto first = draw();
    faults.seed(42);
    const auto second = draw();
    BOOST_TEST((first == second));
    const auto hits = faults.injected(fault::read_ioerr);
    BOOST_TEST(hits > 2 * 23'000u);
    BOOST_TEST(hits < 2 * 27'000u);
}

BOOST_AUTO_TEST_CASE(countdown_fires_once_across_threads) {
    faults.set(fault::any_io, {.nth = 5'000});
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t)
        threads.emplace_back([&] {
            for (int i = 0; i < 2'000; ++i) (void)faults.should_fail(fault::any_io);
        });
    for (auto& t : threads) t.join();
    BOOST_TEST(faults.injected(fault::any_io) == 1u);
    BOOST_TEST(faults.fired(fault::any_io));
}

BOOST_AUTO_TEST_SUITE_END()
