// R7 out-of-memory and I/O fail-at-N loops (SQLite's own malloc and ioerr test method): run one
// sequence (open and configure a pool, BEGIN IMMEDIATE, insert, savepoint, insert, release,
// commit, return the lease) with SQLite allocation N, or I/O call N, failing, for N = 1, 2, ...
// until the sequence runs without reaching N. Every failure must surface as a sqlpool error,
// nothing may crash or leak, the database must stay intact and the pool usable.
//
// An executable of its own: SQLite's allocator hook (SQLITE_CONFIG_MALLOC) is process-wide and
// must be installed before sqlite3_initialize(). Only SQLite's allocator fails, never C++'s.
#define BOOST_TEST_MODULE reliability_fail_at_n
#include <boost/test/unit_test.hpp>

#include <sqlite3.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <new>
#include <optional>
#include <string>

#include "reliability/reliability.hpp"
#include "support/fault_vfs.hpp"
#include "support/scratch_dir.hpp"

import sqlpool;

using namespace std::chrono_literals;
namespace rel = sqlpool_reliability;
using sqlpool_test::fault;

namespace {

// ---- SQLite's allocator, wrapped: allocation N (and, persistent, every later one) fails ----

sqlite3_mem_methods real_memory{};
std::atomic<std::int64_t> alloc_countdown{0};
std::atomic<bool> alloc_persistent{false};
std::atomic<bool> alloc_fired{false};
std::atomic<std::uint64_t> alloc_injected{0};

bool allocation_fails() noexcept {
    bool fail = alloc_persistent.load() && alloc_fired.load();
    std::int64_t left = alloc_countdown.load();
    while (left > 0) {
        if (alloc_countdown.compare_exchange_weak(left, left - 1)) {
            if (left == 1) {
                alloc_fired.store(true);
                fail = true;
            }
            break;
        }
    }
    if (fail) alloc_injected.fetch_add(1);
    return fail;
}

void* failing_malloc(int size) {
    return allocation_fails() ? nullptr : real_memory.xMalloc(size);
}
void* failing_realloc(void* old, int size) {
    return allocation_fails() ? nullptr : real_memory.xRealloc(old, size);
}
void forward_free(void* p) {
    real_memory.xFree(p);
}
int forward_size(void* p) {
    return real_memory.xSize(p);
}
int forward_roundup(int n) {
    return real_memory.xRoundup(n);
}
int forward_init(void* data) {
    return real_memory.xInit(data);
}
void forward_shutdown(void* data) {
    real_memory.xShutdown(data);
}

void arm_allocations(std::int64_t n, bool persistent) {
    alloc_fired.store(false);
    alloc_persistent.store(persistent);
    alloc_countdown.store(n);
}
void disarm_allocations() {
    alloc_countdown.store(0);
    alloc_persistent.store(false);
}

struct install_hooks {
    install_hooks() {
        if (sqlite3_config(SQLITE_CONFIG_GETMALLOC, &real_memory) != SQLITE_OK)
            die("SQLITE_CONFIG_GETMALLOC");
        sqlite3_mem_methods wrapped = real_memory;
        wrapped.xMalloc = failing_malloc;
        wrapped.xRealloc = failing_realloc;
        wrapped.xFree = forward_free;
        wrapped.xSize = forward_size;
        wrapped.xRoundup = forward_roundup;
        wrapped.xInit = forward_init;
        wrapped.xShutdown = forward_shutdown;
        if (sqlite3_config(SQLITE_CONFIG_MALLOC, &wrapped) != SQLITE_OK)
            die("SQLITE_CONFIG_MALLOC (SQLite was initialized before the hook)");
        // No lookaside: small allocations then go through the hook too, and can fail. (Debian's
        // SQLite is built with SQLITE_OMIT_LOOKASIDE, where this changes nothing.)
        if (sqlite3_config(SQLITE_CONFIG_LOOKASIDE, 0, 0) != SQLITE_OK) die("SQLITE_CONFIG_LOOKASIDE");
        (void)sqlpool_test::fault_vfs::install(); // initializes SQLite: after the allocator hook
    }
    [[noreturn]] static void die(const char* what) {
        std::fprintf(stderr, "r7: %s failed\n", what);
        std::abort();
    }
};

} // namespace

BOOST_TEST_GLOBAL_FIXTURE(install_hooks);

namespace {

sqlpool::pool_config sequence_config(const std::string& path) {
    return sqlpool::pool_config{.database = path,
                                .busy_timeout = 500ms,
                                .synchronous = sqlpool::synchronous_mode::full, // a sync per commit
                                .pragmas = {{"cache_size", "-500"}, {"temp_store", "2"}},
                                .min_connections = 1,
                                .max_connections = 2,
                                .acquire_timeout = 5s,
                                .background_maintenance = false};
}

// The sequence under test. Leaves the pool in `pool` (when it could be built) for the checks.
void run_sequence(const std::string& path, std::int64_t n, std::optional<sqlpool::pool>& pool) {
    pool.emplace(sequence_config(path)); // open + configure
    sqlpool::lease lease = pool->acquire();
    auto tx = lease->begin(sqlpool::isolation_level::immediate);
    lease->exec("INSERT INTO t(n, part) VALUES (?, 'outer')", n);
    {
        auto sp = tx.savepoint();
        lease->exec("INSERT INTO t(n, part) VALUES (?, 'inner')", n);
        sp.release();
    }
    tx.commit();
    lease.release();
}

struct loop_figures {
    std::uint64_t iterations = 0, surfaced = 0, benign = 0, foreign = 0, bad_alloc = 0, partial = 0, lost = 0,
                  bad_integrity = 0, unusable = 0, leaked_bytes = 0, leaky_iterations = 0, leaked_leases = 0;
    bool completed = false;
    std::string last_foreign;
};

// One fail-at-N loop. `arm(n)` makes call n fail; `fired()` says whether it did; `disarm()`.
template <class Arm, class Fired, class Disarm>
loop_figures fail_at_n_loop(const char* name, Arm&& arm, Fired&& fired, Disarm&& disarm) {
    sqlpool_test::scratch_dir dir{std::string("r7-") + name};
    const std::string path = dir.file("r7.db");
    {
        sqlpool::connection setup(path);
        setup.exec("CREATE TABLE t(n INTEGER NOT NULL, part TEXT NOT NULL, UNIQUE (n, part))");
    }
    // Warm-up run (N = 0: nothing fails) so that one-time allocations are behind the baseline.
    {
        std::optional<sqlpool::pool> pool;
        run_sequence(path, 0, pool);
    }
    const sqlite3_int64 baseline = sqlite3_memory_used();

    loop_figures f;
    rel::watchdog guard(std::string("R7 ") + name);
    const std::int64_t limit = 200'000; // far beyond any sequence; reaching it fails the test
    for (std::int64_t n = 1; n <= limit; ++n) {
        ++f.iterations;
        std::optional<sqlpool::pool> pool;
        bool succeeded = false;
        arm(n);
        try {
            run_sequence(path, n, pool);
            succeeded = true;
        } catch (const sqlpool::error&) {
            ++f.surfaced;
        } catch (const std::bad_alloc&) {
            ++f.bad_alloc;
        } catch (const std::exception& e) {
            ++f.foreign;
            f.last_foreign = e.what();
        }
        const bool hit = fired();
        disarm();
        if (succeeded && hit) ++f.benign;

        // The pool, if it was built, is still usable: no lease leaked, a new lease writes.
        if (pool) {
            try {
                if (pool->stats().in_use != 0) ++f.leaked_leases;
                auto lease = pool->acquire();
                lease->exec("INSERT INTO t(n, part) VALUES (?, 'after')", n);
                if (lease->query_value<std::int64_t>("SELECT count(*) FROM t WHERE n = ? AND part = 'after'",
                                                     n) != 1)
                    ++f.unusable;
            } catch (const std::exception&) {
                ++f.unusable;
            }
            pool.reset();
        }
        // The database, seen fresh: intact, and the sequence's rows all there or all absent.
        {
            sqlpool::connection check(sqlpool::open_options{.path = path});
            if (check.query_value<std::string>("PRAGMA integrity_check") != "ok") ++f.bad_integrity;
            const auto rows =
                check.query_value<std::int64_t>("SELECT count(*) FROM t WHERE n = ? AND part <> 'after'", n);
            if (rows != 0 && rows != 2) ++f.partial;
            if (succeeded && rows != 2) ++f.lost;
        }
        // Everything is closed: SQLite holds no more memory than before the loop.
        const sqlite3_int64 used = sqlite3_memory_used();
        if (used != baseline) {
            ++f.leaky_iterations;
            f.leaked_bytes = static_cast<std::uint64_t>(used > baseline ? used - baseline : baseline - used);
        }
        if (succeeded && !hit) {
            f.completed = true;
            break;
        }
    }
    rel::figures(std::string("R7/") + name,
                 "iterations=" + std::to_string(f.iterations) + " surfaced=" + std::to_string(f.surfaced) +
                     " benign=" + std::to_string(f.benign) + " completed=" + (f.completed ? "yes" : "no") +
                     " foreign=" + std::to_string(f.foreign) + " partial=" + std::to_string(f.partial) +
                     " lost=" + std::to_string(f.lost) + " unusable=" + std::to_string(f.unusable) +
                     " leaky_iterations=" + std::to_string(f.leaky_iterations) +
                     " bad_integrity=" + std::to_string(f.bad_integrity));
    return f;
}

void check(const loop_figures& f) {
    BOOST_TEST(f.completed);
    BOOST_TEST(f.iterations > 1u);
    BOOST_TEST(f.surfaced > 0u);
    BOOST_TEST(f.foreign == 0u, "a failure surfaced as a non-sqlpool exception: " << f.last_foreign);
    BOOST_TEST(f.bad_alloc == 0u);
    BOOST_TEST(f.partial == 0u);
    BOOST_TEST(f.lost == 0u);
    BOOST_TEST(f.bad_integrity == 0u);
    BOOST_TEST(f.unusable == 0u);
    BOOST_TEST(f.leaked_leases == 0u);
    BOOST_TEST(f.leaky_iterations == 0u,
               "SQLite memory differs from the baseline by " << f.leaked_bytes << " bytes");
}

} // namespace

BOOST_AUTO_TEST_SUITE(r7_fail_at_n)

BOOST_AUTO_TEST_CASE(out_of_memory_transient) {
    check(fail_at_n_loop(
        "malloc", [](std::int64_t n) { arm_allocations(n, false); }, [] { return alloc_fired.load(); },
        [] { disarm_allocations(); }));
}

BOOST_AUTO_TEST_CASE(out_of_memory_persistent) {
    check(fail_at_n_loop(
        "malloc-persistent", [](std::int64_t n) { arm_allocations(n, true); },
        [] { return alloc_fired.load(); }, [] { disarm_allocations(); }));
}

BOOST_AUTO_TEST_CASE(io_error_transient) {
    auto& faults = sqlpool_test::fault_vfs::install();
    check(fail_at_n_loop(
        "ioerr",
        [&](std::int64_t n) {
            faults.set(fault::any_io, {.nth = static_cast<std::uint64_t>(n)});
            faults.enable();
        },
        [&] { return faults.fired(fault::any_io); }, [&] { faults.clear(); }));
}

BOOST_AUTO_TEST_CASE(io_error_persistent) {
    auto& faults = sqlpool_test::fault_vfs::install();
    check(fail_at_n_loop(
        "ioerr-persistent",
        [&](std::int64_t n) {
            faults.set(fault::any_io, {.nth = static_cast<std::uint64_t>(n), .persistent = true});
            faults.enable();
        },
        [&] { return faults.fired(fault::any_io); }, [&] { faults.clear(); }));
}

BOOST_AUTO_TEST_CASE(disk_full) {
    auto& faults = sqlpool_test::fault_vfs::install();
    check(fail_at_n_loop(
        "full",
        [&](std::int64_t n) {
            faults.set(fault::write_full, {.nth = static_cast<std::uint64_t>(n), .persistent = true});
            faults.enable();
        },
        [&] { return faults.fired(fault::write_full); }, [&] { faults.clear(); }));
}

BOOST_AUTO_TEST_SUITE_END()
