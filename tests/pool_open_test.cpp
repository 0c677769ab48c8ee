// pool_open: how a pool opens connections: the warm-up to min_connections and what fails there,
// on_connect (once per new connection; what it throws), capacity freed when an open fails, a lazy
// pool (min_connections = 0), and in-memory databases. The partition is internal; these tests go
// through a pool.
#define BOOST_TEST_MODULE pool_open
#include <boost/test/unit_test.hpp>

#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <exception>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>

#include "support/temp_dir.hpp"

#include "support/pool_helpers.hpp"

import sqlpool;

namespace {

using sqlpool_test::check_conservation;
using sqlpool_test::small_config;
using sqlpool_test::uses_pool;

// The message of the exception nested in `e`.
std::string nested_message(const sqlpool::error& e) {
    try {
        std::rethrow_if_nested(e);
    } catch (const std::exception& original) {
        return original.what();
    }
    return "(nothing nested)";
}

} // namespace

// ---------------------------------------------------------------------------------------------
BOOST_FIXTURE_TEST_SUITE(warm_up, sqlpool_test::pool_fixture)

BOOST_AUTO_TEST_CASE(construction_opens_min_connections) {
    sqlpool::pool pool{small_config(path, 3, 4)};
    const auto s = pool.stats();
    BOOST_TEST(s.total == 3u);
    BOOST_TEST(s.idle == 3u);
    BOOST_TEST(s.in_use == 0u);
    BOOST_TEST(s.created == 3u);
    BOOST_TEST(s.max_connections == 4u);
    BOOST_TEST(s.acquired == 0u);
    check_conservation(s);
}

BOOST_AUTO_TEST_CASE(construction_opens_nothing_with_min_zero) {
    sqlpool::pool pool{small_config(path, 0, 2)};
    BOOST_TEST(pool.stats().total == 0u);
    BOOST_TEST(pool.stats().created == 0u);
}

BOOST_AUTO_TEST_CASE(unopenable_database_fails_at_construction) {
    const auto missing = dir.file("missing/dir/x.db");
    BOOST_CHECK_THROW(sqlpool::pool(small_config(missing, 1, 2)), sqlpool::sqlite_error);
    BOOST_TEST(!std::filesystem::exists(dir.path() / "missing"));
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------------------------------------
BOOST_FIXTURE_TEST_SUITE(on_connect, sqlpool_test::pool_fixture)

BOOST_AUTO_TEST_CASE(on_connect_runs_once_per_new_connection) {
    auto config = small_config(path, 2, 3);
    auto calls = std::make_shared<std::atomic<int>>(0);
    config.on_connect = [calls](sqlpool::connection& c) {
        ++*calls;
        c.exec("CREATE TABLE IF NOT EXISTS hook(v)");
        c.exec("CREATE TEMP TABLE mine(v)"); // per connection: fails if run twice on one
    };
    sqlpool::pool pool{config};
    BOOST_TEST(*calls == 2);
    {
        auto a = pool.acquire();
        auto b = pool.acquire();
        BOOST_TEST(*calls == 2); // reused, not opened
        auto c = pool.acquire(); // third: opened now
        BOOST_TEST(*calls == 3);
        BOOST_TEST(c->query_value<std::int64_t>("SELECT count(*) FROM mine") == 0);
    }
    for (int i = 0; i < 5; ++i) pool.acquire().release();
    BOOST_TEST(*calls == 3);
    BOOST_TEST(pool.stats().created == 3u);
}

BOOST_AUTO_TEST_CASE(on_connect_runs_for_replacement_connections) {
    auto config = small_config(path, 1, 1);
    auto calls = std::make_shared<std::atomic<int>>(0);
    config.on_connect = [calls](sqlpool::connection&) { ++*calls; };
    uses_pool<1> pool{config};
    for (int i = 0; i < 3; ++i) pool.acquire().release(); // each retires on return
    BOOST_TEST(*calls == 3);
    BOOST_TEST(pool.stats().closed.uses == 3u);
}

BOOST_AUTO_TEST_CASE(open_failure_during_acquire_releases_the_capacity) {
    auto config = small_config(path, 1, 2);
    auto fail = std::make_shared<std::atomic<bool>>(false);
    config.on_connect = [fail](sqlpool::connection&) {
        if (*fail) throw std::runtime_error("on_connect failed");
    };
    sqlpool::pool pool{config};
    auto first = pool.acquire();
    *fail = true;
    BOOST_CHECK_THROW((void)pool.acquire(), std::runtime_error);
    auto s = pool.stats();
    BOOST_TEST(s.open_failures == 1u);
    BOOST_TEST(s.total == 1u); // the reserved capacity is free again
    BOOST_TEST(s.in_use == 1u);
    BOOST_TEST(s.created == 1u);
    *fail = false;
    auto second = pool.acquire();
    BOOST_TEST(second.info().id == 2u);
    BOOST_TEST(pool.stats().total == 2u);
    check_conservation(pool.stats());
}

BOOST_AUTO_TEST_CASE(failed_open_is_not_counted_as_acquired) {
    // pool_stats::acquired counts "leases handed out"; an acquire whose connection failed to open
    // handed out nothing.
    auto config = small_config(path, 1, 2);
    auto fail = std::make_shared<std::atomic<bool>>(false);
    config.on_connect = [fail](sqlpool::connection&) {
        if (*fail) throw std::runtime_error("on_connect failed");
    };
    sqlpool::pool pool{config};
    auto first = pool.acquire();
    *fail = true;
    BOOST_CHECK_THROW((void)pool.acquire(), std::runtime_error);
    BOOST_TEST(pool.stats().acquired == 1u);
}

// What on_connect throws reaches the caller as a sqlpool::error, with the original nested in it:
// `catch (const sqlpool::error&)` catches everything the pool throws.
BOOST_AUTO_TEST_CASE(on_connect_exception_is_a_sqlpool_error_in_the_constructor) {
    auto config = small_config(path, 1, 2);
    config.on_connect = [](sqlpool::connection&) { throw std::invalid_argument("hook refused"); };
    std::string nested = "(not caught as sqlpool::error)";
    try {
        sqlpool::pool pool{config};
    } catch (const sqlpool::error& e) {
        nested = nested_message(e);
        BOOST_TEST(std::string(e.what()).find("on_connect") != std::string::npos);
    }
    BOOST_TEST(nested == "hook refused");
}

BOOST_AUTO_TEST_CASE(on_connect_exception_is_a_sqlpool_error_in_acquire) {
    auto config = small_config(path, 1, 2);
    auto fail = std::make_shared<std::atomic<bool>>(false);
    config.on_connect = [fail](sqlpool::connection&) {
        if (*fail) throw 42; // not even a std::exception
    };
    sqlpool::pool pool{config};
    auto first = pool.acquire();
    *fail = true;
    bool caught = false;
    try {
        (void)pool.acquire();
    } catch (const sqlpool::error& e) {
        caught = true;
        try {
            std::rethrow_if_nested(e);
        } catch (int original) {
            BOOST_TEST(original == 42);
        }
    }
    BOOST_TEST(caught);
    BOOST_TEST(pool.stats().total == 1u); // the reserved capacity is free again
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------------------------------------
BOOST_FIXTURE_TEST_SUITE(min_connections_zero, sqlpool_test::pool_fixture)

// min_connections = 0: nothing opens until the first acquire, which fails clearly when the
// database cannot be opened.
BOOST_AUTO_TEST_CASE(min_connections_zero_opens_nothing_until_the_first_acquire) {
    const std::string file = (dir.path() / "lazy.db").string();
    auto config = small_config(file, 0, 2);
    auto opened = std::make_shared<std::atomic<int>>(0);
    config.on_connect = [opened](sqlpool::connection&) { ++*opened; };
    sqlpool::pool pool{config};
    BOOST_TEST(*opened == 0);
    BOOST_TEST(pool.stats().total == 0u);
    BOOST_TEST(!std::filesystem::exists(file));
    pool.acquire()->exec("CREATE TABLE t(x)");
    BOOST_TEST(*opened == 1);
    BOOST_TEST(std::filesystem::exists(file));
}

BOOST_AUTO_TEST_CASE(min_connections_zero_fails_on_the_first_acquire_when_the_file_cannot_open) {
    auto config = small_config((dir.path() / "missing-dir" / "x.db").string(), 0, 2);
    sqlpool::pool pool{config}; // opens nothing, so nothing fails yet
    BOOST_CHECK_EXCEPTION((void)pool.acquire(), sqlpool::sqlite_error, [](const sqlpool::sqlite_error& e) {
        return e.code() == sqlpool::result_code::cantopen;
    });
    BOOST_TEST(pool.stats().total == 0u);
    BOOST_TEST(pool.stats().open_failures == 1u);
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------------------------------------
BOOST_FIXTURE_TEST_SUITE(memory_databases, sqlpool_test::pool_fixture)

BOOST_AUTO_TEST_CASE(memory_database_is_shared_by_the_pool) {
    sqlpool::pool pool{small_config(":memory:", 1, 2)};
    auto a = pool.acquire();
    auto b = pool.acquire();
    BOOST_TEST(a.info().id != b.info().id);
    BOOST_TEST(a.info().file_inode == 0u);
    a->exec("CREATE TABLE shared(v INTEGER)");
    a->exec("INSERT INTO shared VALUES(7)");
    BOOST_TEST(b->query_value<std::int64_t>("SELECT v FROM shared") == 7);
}

BOOST_AUTO_TEST_CASE(memory_database_outlives_its_connections_while_the_pool_lives) {
    uses_pool<1> pool{small_config(":memory:", 1, 1)};
    pool.acquire()->exec("CREATE TABLE kept(v INTEGER); INSERT INTO kept VALUES(1);");
    BOOST_TEST(pool.stats().total == 0u); // the only connection retired on return
    auto fresh = pool.acquire();
    BOOST_TEST(fresh.info().id == 2u);
    BOOST_TEST(fresh->query_value<std::int64_t>("SELECT count(*) FROM kept") == 1);
}

BOOST_AUTO_TEST_CASE(two_memory_pools_do_not_share_a_database) {
    sqlpool::pool one{small_config(":memory:", 1, 1)};
    sqlpool::pool two{small_config(":memory:", 1, 1)};
    one.acquire()->exec("CREATE TABLE only_in_one(v)");
    BOOST_TEST(two.acquire()->query_value<std::int64_t>(
                   "SELECT count(*) FROM sqlite_master WHERE name = 'only_in_one'") == 0);
}

BOOST_AUTO_TEST_CASE(file_named_like_memory_is_a_file) {
    sqlpool_test::temp_dir dir{"pool"};
    const auto path = dir.file("cache:memory:.db");
    {
        sqlpool::pool pool{small_config(path, 1, 2)};
        pool.acquire()->exec("CREATE TABLE on_disk(v INTEGER); INSERT INTO on_disk VALUES(3);");
        BOOST_TEST(pool.acquire().info().file_inode != 0u);
    }
    sqlpool::pool reopened{small_config(path, 1, 1)};
    BOOST_TEST(reopened.acquire()->query_value<std::int64_t>("SELECT v FROM on_disk") == 3);
}

BOOST_AUTO_TEST_CASE(private_memory_uri_is_refused) {
    BOOST_CHECK_THROW(sqlpool::pool(small_config("file::memory:", 1, 2)), sqlpool::config_error);
    BOOST_CHECK_THROW(sqlpool::pool(small_config("file::memory:?cache=shared", 1, 2)), sqlpool::config_error);
    BOOST_CHECK_THROW(sqlpool::pool(small_config("file:x?mode=memory", 1, 2)), sqlpool::config_error);
}

BOOST_AUTO_TEST_CASE(named_memdb_uri_is_shared) {
    const std::string uri = "file:/sqlpool-pool-test-" + std::to_string(::getpid()) + "?vfs=memdb";
    sqlpool::pool pool{small_config(uri, 1, 2)};
    auto a = pool.acquire();
    auto b = pool.acquire();
    a->exec("CREATE TABLE named(v)");
    BOOST_TEST(b->query_value<std::int64_t>("SELECT count(*) FROM named") == 0);
}

BOOST_AUTO_TEST_SUITE_END()
