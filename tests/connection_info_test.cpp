// connection_info: the vocabulary the pool and its policies share (the pool_clock concept, health
// states, check points, retire reasons) and what a pool records about each connection.
#define BOOST_TEST_MODULE connection_info
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <cstdint>
#include <string>

#include "support/enum_names.hpp"
#include "support/manual_clock.hpp"
#include "support/temp_dir.hpp"

import sqlpool;

using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

// Concepts: a type that misses or misspells what a concept names does not satisfy it, and
// basic_pool refuses it; every stock policy does satisfy its concept.

namespace bad {

// pool_clock
struct wall_clock {
    std::chrono::system_clock::time_point now() const { return std::chrono::system_clock::now(); }
};
struct no_now {};

} // namespace bad

static_assert(!sqlpool::pool_clock<bad::wall_clock>);
static_assert(!sqlpool::pool_clock<bad::no_now>);
static_assert(!sqlpool::pool_clock<std::chrono::system_clock>);

// basic_pool's parameters are constrained: a bad policy in any position is refused.
template <class C>
concept pool_takes_clock = requires {
    typename sqlpool::basic_pool<sqlpool::locking::std_mutex, sqlpool::health::ping,
                                 sqlpool::recycling::standard, sqlpool::isolation::deferred,
                                 sqlpool::queue::barging, C>;
};
static_assert(!pool_takes_clock<bad::wall_clock>);
static_assert(pool_takes_clock<sqlpool_test::manual_clock>);

static_assert(sqlpool::pool_clock<steady>);
static_assert(sqlpool::pool_clock<sqlpool_test::manual_clock>);

BOOST_AUTO_TEST_SUITE(vocabulary)

BOOST_AUTO_TEST_CASE(check_points_combine_with_or_and_includes_tests_one) {
    using sqlpool::check_point;
    constexpr auto both = check_point::on_checkout | check_point::periodic;
    static_assert(sqlpool::includes(both, check_point::on_checkout));
    BOOST_TEST(sqlpool::includes(both, check_point::on_checkout));
    BOOST_TEST(sqlpool::includes(both, check_point::periodic));
    BOOST_TEST(!sqlpool::includes(both, check_point::on_return));
    BOOST_TEST(!sqlpool::includes(check_point::none, check_point::periodic));
    BOOST_TEST(!sqlpool::includes(both, check_point::none));
    const auto all = both | check_point::on_return;
    BOOST_TEST(sqlpool::includes(all, check_point::on_return));
    BOOST_TEST(((check_point::none | check_point::periodic) == check_point::periodic));
}

BOOST_AUTO_TEST_CASE(every_retire_reason_and_health_status_has_its_own_name) {
    const auto reason = [](sqlpool::retire_reason r) { return std::string(sqlpool::to_string(r)); };
    const auto status = [](sqlpool::health_status s) { return std::string(sqlpool::to_string(s)); };
    BOOST_TEST(sqlpool_test::every_value_named<sqlpool::retire_reason>(7, reason));
    BOOST_TEST(sqlpool_test::every_value_named<sqlpool::health_status>(3, status));
    BOOST_TEST(reason(sqlpool::retire_reason::none) == "none");
    BOOST_TEST(reason(sqlpool::retire_reason::shutdown) == "shutdown");
    BOOST_TEST(status(sqlpool::health_status::unknown) == "unknown");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(what_a_pool_records)

using clocked =
    sqlpool::basic_pool<sqlpool::locking::std_mutex, sqlpool::health::no_check, sqlpool::recycling::never,
                        sqlpool::isolation::deferred, sqlpool::queue::barging, sqlpool_test::manual_clock>;

BOOST_AUTO_TEST_CASE(ids_times_and_uses_follow_the_pool_clock) {
    sqlpool_test::temp_dir dir;
    sqlpool_test::manual_clock clock;
    const auto start = clock.now();
    clocked pool{sqlpool::pool_config{.database = dir.file("c.db"),
                                      .min_connections = 1,
                                      .max_connections = 2,
                                      .background_maintenance = false},
                 sqlpool::health::no_check{}, sqlpool::recycling::never{}, clock};
    {
        auto first = pool.acquire();
        const auto& info = first.info();
        BOOST_TEST(info.id == 1u);
        BOOST_TEST((info.created_at == start));
        BOOST_TEST((info.last_used_at == start)); // never returned yet
        BOOST_TEST(info.use_count == 0u);
        BOOST_TEST((info.health == sqlpool::health_status::healthy));
        BOOST_TEST(info.last_error == 0);
        clock.advance(5s);
        auto second = pool.acquire(); // the first is out: a new connection, opened now
        BOOST_TEST(second.info().id == 2u);
        BOOST_TEST((second.info().created_at == start + 5s));
        clock.advance(5s);
    } // both go back at start + 10 s
    auto again = pool.acquire();
    BOOST_TEST(again.info().use_count == 1u);
    BOOST_TEST((again.info().last_used_at == start + 10s));
}

BOOST_AUTO_TEST_CASE(the_file_identity_is_the_one_the_connection_opened_and_none_in_memory) {
    sqlpool_test::temp_dir dir;
    sqlpool::pool on_file{
        sqlpool::pool_config{.database = dir.file("f.db"), .background_maintenance = false}};
    auto lease = on_file.acquire();
    BOOST_TEST(lease.info().file_inode != 0u);
    BOOST_TEST(lease.info().file_inode == lease->file_inode());
    BOOST_TEST(lease.info().file_device == lease->file_device());
    sqlpool::pool in_memory{sqlpool::pool_config{.database = ":memory:", .background_maintenance = false}};
    auto memory_lease = in_memory.acquire();
    BOOST_TEST(memory_lease.info().file_inode == 0u);
    BOOST_TEST(memory_lease.info().file_device == 0u);
}

BOOST_AUTO_TEST_SUITE_END()
