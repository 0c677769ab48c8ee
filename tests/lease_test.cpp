// lease: the RAII handle to a pooled connection: empty and moved-from leases, release(), moves, and
// the one lease type every pool hands out.
#define BOOST_TEST_MODULE lease
#include <boost/test/unit_test.hpp>

#include <concepts>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <utility>

#include "support/temp_dir.hpp"

import sqlpool;

namespace {

struct two_connections {
    sqlpool_test::temp_dir dir{"lease"};
    sqlpool::pool pool{sqlpool::pool_config{.database = dir.file("l.db"),
                                            .min_connections = 2,
                                            .max_connections = 2,
                                            .background_maintenance = false}};
};

// Code that uses a connection takes a sqlpool::lease& from any pool.
std::int64_t answer(sqlpool::lease& lease) {
    return lease->query_value<std::int64_t>("SELECT 42");
}

} // namespace

BOOST_AUTO_TEST_CASE(an_empty_lease_is_a_misuse) {
    sqlpool::lease empty;
    BOOST_TEST(!empty);
    BOOST_CHECK_THROW((void)empty.get(), sqlpool::misuse_error);
    BOOST_CHECK_THROW((void)*empty, sqlpool::misuse_error);
    BOOST_CHECK_THROW((void)empty->changes(), sqlpool::misuse_error);
    BOOST_CHECK_THROW((void)empty.info(), sqlpool::misuse_error);
    empty.release(); // nothing to give back
    BOOST_TEST(!empty);
}

BOOST_FIXTURE_TEST_SUITE(leases_of_a_pool, two_connections)

BOOST_AUTO_TEST_CASE(release_gives_the_connection_back_and_empties_the_lease) {
    auto lease = pool.acquire();
    BOOST_TEST(static_cast<bool>(lease));
    BOOST_TEST(pool.stats().in_use == 1u);
    lease.release();
    BOOST_TEST(!lease);
    BOOST_TEST(pool.stats().in_use == 0u);
    BOOST_CHECK_THROW((void)lease.get(), sqlpool::misuse_error);
    lease.release(); // a second release does nothing
    BOOST_TEST(pool.stats().in_use == 0u);
}

BOOST_AUTO_TEST_CASE(moving_a_lease_moves_the_connection_not_a_copy) {
    auto first = pool.acquire();
    const auto id = first.info().id;
    sqlpool::lease moved = std::move(first);
    BOOST_TEST(!first); // NOLINT(bugprone-use-after-move): a moved-from lease is empty
    BOOST_TEST(moved.info().id == id);
    BOOST_TEST(pool.stats().in_use == 1u);
}

BOOST_AUTO_TEST_CASE(move_assignment_gives_back_the_connection_it_held) {
    auto kept = pool.acquire();
    auto other = pool.acquire();
    const auto other_id = other.info().id;
    BOOST_TEST(kept.info().id != other_id);
    BOOST_TEST(pool.stats().in_use == 2u);
    kept = std::move(other);
    BOOST_TEST(pool.stats().in_use == 1u);
    BOOST_TEST(kept.info().id == other_id);
}

BOOST_AUTO_TEST_CASE(the_connection_goes_back_clean) {
    {
        auto lease = pool.acquire();
        lease->exec("CREATE TABLE t(v)");
        lease->exec("BEGIN");
        lease->exec("INSERT INTO t VALUES(1)");
        BOOST_TEST(lease->in_transaction());
    } // never committed
    auto one = pool.acquire(); // both connections: whichever had the transaction
    auto two = pool.acquire();
    for (const auto* lease : {&one, &two}) {
        BOOST_TEST(!(*lease)->in_transaction());
        BOOST_TEST((*lease)->query_value<std::int64_t>("SELECT count(*) FROM t") == 0);
    }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_CASE(every_pool_hands_out_the_same_lease_type) {
    sqlpool_test::temp_dir dir{"lease"};
    using spinning = sqlpool::basic_pool<sqlpool::locking::spin, sqlpool::health::no_check,
                                         sqlpool::recycling::never, sqlpool::isolation::immediate>;
    static_assert(std::same_as<decltype(std::declval<spinning&>().acquire()), sqlpool::lease>);
    static_assert(std::same_as<decltype(std::declval<sqlpool::pool&>().acquire()), sqlpool::lease>);
    spinning spin_pool{sqlpool::pool_config{.database = dir.file("s.db"), .background_maintenance = false}};
    sqlpool::pool plain_pool{sqlpool::pool_config{.database = ":memory:", .background_maintenance = false}};
    auto from_spin = spin_pool.acquire();
    auto from_plain = plain_pool.acquire();
    BOOST_TEST(answer(from_spin) == 42);
    BOOST_TEST(answer(from_plain) == 42);
}
