// Isolation policies: the isolation_policy concept, the stock levels, and the levels a pool's
// leases and write() begin with.
#define BOOST_TEST_MODULE isolation
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <cstdint>
#include <string>

#include "support/temp_dir.hpp"

import sqlpool;

using namespace std::chrono_literals;

// Concepts: a type that misses or misspells what a concept names does not satisfy it, and
// basic_pool refuses it; every stock policy does satisfy its concept.

namespace bad {

// isolation_policy
struct no_write_level {
    static constexpr sqlpool::isolation_level default_level = sqlpool::isolation_level::deferred;
};
struct level_is_a_string {
    static constexpr const char* default_level = "deferred";
    static constexpr sqlpool::isolation_level write_level = sqlpool::isolation_level::immediate;
};

} // namespace bad

static_assert(!sqlpool::isolation_policy<bad::no_write_level>);
static_assert(!sqlpool::isolation_policy<bad::level_is_a_string>);

// basic_pool's parameters are constrained: a bad policy in any position is refused.
template <class I>
concept pool_takes_isolation = requires {
    typename sqlpool::basic_pool<sqlpool::locking::std_mutex, sqlpool::health::ping,
                                 sqlpool::recycling::standard, I>;
};
static_assert(!pool_takes_isolation<bad::no_write_level>);

static_assert(sqlpool::isolation_policy<sqlpool::isolation::deferred>);
static_assert(sqlpool::isolation_policy<sqlpool::isolation::immediate>);
static_assert(sqlpool::isolation_policy<sqlpool::isolation::exclusive>);

// The stock isolation levels.
static_assert(sqlpool::isolation::deferred::default_level == sqlpool::isolation_level::deferred);
static_assert(sqlpool::isolation::deferred::write_level == sqlpool::isolation_level::immediate);
static_assert(sqlpool::isolation::immediate::default_level == sqlpool::isolation_level::immediate);
static_assert(sqlpool::isolation::exclusive::write_level == sqlpool::isolation_level::exclusive);
static_assert(sqlpool::isolation::immediate::write_level == sqlpool::isolation_level::immediate);
static_assert(sqlpool::isolation::exclusive::default_level == sqlpool::isolation_level::exclusive);

namespace {

template <class Isolation>
using isolated = sqlpool::basic_pool<sqlpool::locking::std_mutex, sqlpool::health::no_check,
                                     sqlpool::recycling::never, Isolation>;

// A pool of one connection on a file in `dir`.
sqlpool::pool_config one_connection(const sqlpool_test::temp_dir& dir) {
    return {.database = dir.file("i.db"),
            .min_connections = 1,
            .max_connections = 1,
            .background_maintenance = false};
}

// True when a connection outside the pool, which never waits, can take the write lock now.
bool write_lock_free(const std::string& path) {
    sqlpool::connection other{sqlpool::open_options{.path = path, .busy_timeout = 0ms}};
    try {
        other.exec("BEGIN IMMEDIATE");
    } catch (const sqlpool::busy_error&) {
        return false;
    }
    other.exec("ROLLBACK");
    return true;
}

} // namespace

BOOST_AUTO_TEST_SUITE(levels_in_a_pool)

BOOST_AUTO_TEST_CASE(a_lease_begins_at_the_policy_default_level) {
    sqlpool_test::temp_dir dir;
    const auto config = one_connection(dir);
    isolated<sqlpool::isolation::immediate> pool{config};
    auto lease = pool.acquire();
    BOOST_TEST((lease->default_isolation() == sqlpool::isolation_level::immediate));
    auto tx = lease->begin();
    BOOST_TEST((tx.level() == sqlpool::isolation_level::immediate));
    BOOST_TEST(!write_lock_free(config.database)); // IMMEDIATE took the write lock at BEGIN
    tx.rollback();
    BOOST_TEST(write_lock_free(config.database));
}

BOOST_AUTO_TEST_CASE(a_deferred_pool_reads_deferred_and_writes_at_its_write_level) {
    sqlpool_test::temp_dir dir;
    const auto config = one_connection(dir);
    isolated<sqlpool::isolation::deferred> pool{config};
    {
        auto lease = pool.acquire();
        BOOST_TEST((lease->default_isolation() == sqlpool::isolation_level::deferred));
        auto tx = lease->begin();
        BOOST_TEST(write_lock_free(config.database)); // DEFERRED takes no lock at BEGIN
        tx.rollback();
    }
    bool free_inside_write = true;
    pool.write([&](sqlpool::connection&) { free_inside_write = write_lock_free(config.database); });
    BOOST_TEST(!free_inside_write); // write() began at write_level, IMMEDIATE
}

BOOST_AUTO_TEST_CASE(a_level_set_on_a_lease_lasts_for_that_lease_only) {
    sqlpool_test::temp_dir dir;
    isolated<sqlpool::isolation::deferred> pool{one_connection(dir)};
    std::uint64_t first_id = 0;
    {
        auto lease = pool.acquire();
        first_id = lease.info().id;
        lease->set_default_isolation(sqlpool::isolation_level::exclusive);
        BOOST_TEST((lease->begin().level() == sqlpool::isolation_level::exclusive));
    }
    auto again = pool.acquire(); // the same, only connection
    BOOST_TEST(again.info().id == first_id);
    BOOST_TEST((again->default_isolation() == sqlpool::isolation_level::deferred));
}

BOOST_AUTO_TEST_SUITE_END()
