// Recycling policies: the recycling_policy concept, and when max_age, max_uses, idle_timeout,
// never, any_of and standard retire a connection.
#define BOOST_TEST_MODULE recycling
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <set>
#include <string>
#include <type_traits>

import sqlpool;

using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

// Concepts: a type that misses or misspells what a concept names does not satisfy it, and
// basic_pool refuses it; every stock policy does satisfy its concept.

namespace bad {

// recycling_policy
struct retire_without_config {
    sqlpool::retire_reason retire(const sqlpool::connection_info&, steady::time_point) const {
        return sqlpool::retire_reason::none;
    }
};
struct retire_not_const {
    sqlpool::retire_reason retire(const sqlpool::connection_info&, const sqlpool::recycle_context&) {
        return sqlpool::retire_reason::none;
    }
};
struct retire_returns_bool {
    bool retire(const sqlpool::connection_info&, const sqlpool::recycle_context&) const { return false; }
};
struct retire_0_1_signature { // before 0.2 the pool passed now and the config, not a context
    sqlpool::retire_reason retire(const sqlpool::connection_info&, steady::time_point,
                                  const sqlpool::pool_config&) const {
        return sqlpool::retire_reason::none;
    }
};

} // namespace bad

static_assert(!sqlpool::recycling_policy<bad::retire_without_config>);
static_assert(!sqlpool::recycling_policy<bad::retire_not_const>);
static_assert(!sqlpool::recycling_policy<bad::retire_returns_bool>);
static_assert(!sqlpool::recycling_policy<bad::retire_0_1_signature>);

// basic_pool's parameters are constrained: a bad policy in any position is refused.
template <class R>
concept pool_takes_recycling =
    requires { typename sqlpool::basic_pool<sqlpool::locking::std_mutex, sqlpool::health::ping, R>; };
static_assert(!pool_takes_recycling<bad::retire_not_const>);

static_assert(sqlpool::recycling_policy<sqlpool::recycling::max_age>);
static_assert(sqlpool::recycling_policy<sqlpool::recycling::max_uses<>>);
static_assert(sqlpool::recycling_policy<sqlpool::recycling::max_uses<3>>);
static_assert(sqlpool::recycling_policy<sqlpool::recycling::idle_timeout>);
static_assert(sqlpool::recycling_policy<sqlpool::recycling::never>);
static_assert(sqlpool::recycling_policy<
              sqlpool::recycling::any_of<sqlpool::recycling::max_age, sqlpool::recycling::never>>);
static_assert(sqlpool::recycling_policy<sqlpool::recycling::standard>);

// Stock policies are empty, so [[no_unique_address]] makes them free inside the pool.
static_assert(std::is_empty_v<sqlpool::recycling::max_age>);

namespace {

sqlpool::connection_info info_created_at(steady::time_point t) {
    sqlpool::connection_info info;
    info.created_at = info.last_used_at = info.last_checked_at = t;
    return info;
}

std::string name(sqlpool::retire_reason reason) {
    return sqlpool::to_string(reason);
}

// A recycling policy that always answers `Reason`.
template <sqlpool::retire_reason Reason>
struct always_retire {
    sqlpool::retire_reason retire(const sqlpool::connection_info&, const sqlpool::recycle_context&) const {
        return Reason;
    }
};

struct fixture {
    sqlpool::pool_config config; // only the recycling knobs are read

    // What the pool tells a recycling policy at `now`; by default about an idle connection of a
    // pool above min_connections (during maintenance).
    [[nodiscard]] sqlpool::recycle_context at(steady::time_point now, bool may_shrink = true) const {
        return {.now = now, .config = config, .may_shrink = may_shrink};
    }
};

} // namespace

BOOST_FIXTURE_TEST_SUITE(recycling, fixture)

BOOST_AUTO_TEST_CASE(max_age_lifetime_is_shortened_by_the_connection_jitter) {
    config.connection_max_age = 100s;
    config.max_age_jitter = 0.2;
    auto info = info_created_at(steady::time_point{1h});
    const auto lifetime = [&](double draw) {
        info.age_jitter = draw;
        return sqlpool::recycling::max_age::lifetime(info, config);
    };
    // lifetime = max_age × (1 − max_age_jitter × age_jitter)
    BOOST_TEST(lifetime(0.0).count() == steady::duration(100s).count());
    BOOST_TEST(lifetime(0.5).count() == steady::duration(90s).count());
    BOOST_TEST(lifetime(1.0).count() == steady::duration(80s).count());
    config.max_age_jitter = 0.0; // no jitter: every connection gets the full age
    BOOST_TEST(lifetime(0.9).count() == steady::duration(100s).count());
    config.max_age_jitter = 1.0; // full jitter: anywhere between 0 and max_age
    BOOST_TEST(lifetime(0.25).count() == steady::duration(75s).count());
    // Distinct draws give distinct lifetimes.
    config.max_age_jitter = 0.1;
    std::set<steady::duration::rep> lifetimes;
    for (int i = 0; i < 16; ++i) lifetimes.insert(lifetime(i / 16.0).count());
    BOOST_TEST(lifetimes.size() == 16u);
}

BOOST_AUTO_TEST_CASE(max_age_retires_exactly_at_the_lifetime) {
    const steady::time_point t0{1h};
    config.connection_max_age = 100s;
    config.max_age_jitter = 0.2;
    auto info = info_created_at(t0);
    info.age_jitter = 0.5; // lifetime 90 s
    const sqlpool::recycling::max_age policy;
    BOOST_TEST(name(policy.retire(info, at(t0 + 90s - 1ns))) == "none");
    BOOST_TEST(name(policy.retire(info, at(t0 + 90s))) == "aged");
    BOOST_TEST(name(policy.retire(info, at(t0 + 1000h))) == "aged");
    // Age counts from creation, not from the last use.
    info.last_used_at = t0 + 89s;
    BOOST_TEST(name(policy.retire(info, at(t0 + 90s))) == "aged");
    info.age_jitter = 0.0;
    BOOST_TEST(name(policy.retire(info, at(t0 + 99s))) == "none");
    BOOST_TEST(name(policy.retire(info, at(t0 + 100s))) == "aged");
}

BOOST_AUTO_TEST_CASE(max_uses_from_template_or_config) {
    const steady::time_point now{1h};
    auto info = info_created_at(now);
    info.use_count = 2;
    BOOST_TEST(name(sqlpool::recycling::max_uses<3>{}.retire(info, at(now))) == "none");
    info.use_count = 3;
    BOOST_TEST(name(sqlpool::recycling::max_uses<3>{}.retire(info, at(now))) == "uses");
    BOOST_TEST(name(sqlpool::recycling::max_uses<4>{}.retire(info, at(now))) == "none");
    // Limit 0 takes config.max_uses, where 0 means unlimited.
    info.use_count = 1'000'000;
    BOOST_TEST(name(sqlpool::recycling::max_uses<>{}.retire(info, at(now))) == "none");
    config.max_uses = 2;
    info.use_count = 1;
    BOOST_TEST(name(sqlpool::recycling::max_uses<>{}.retire(info, at(now))) == "none");
    info.use_count = 2;
    BOOST_TEST(name(sqlpool::recycling::max_uses<>{}.retire(info, at(now))) == "uses");
    // An explicit limit wins over the config's.
    BOOST_TEST(name(sqlpool::recycling::max_uses<5>{}.retire(info, at(now))) == "none");
}

BOOST_AUTO_TEST_CASE(idle_timeout_counts_from_the_last_use) {
    const steady::time_point t0{1h};
    config.idle_timeout = 60s;
    auto info = info_created_at(t0);
    const sqlpool::recycling::idle_timeout policy;
    BOOST_TEST(name(policy.retire(info, at(t0 + 59s))) == "none");
    BOOST_TEST(name(policy.retire(info, at(t0 + 60s))) == "idle");
    info.last_used_at = t0 + 30s; // used since: the idle clock restarts
    BOOST_TEST(name(policy.retire(info, at(t0 + 60s))) == "none");
    BOOST_TEST(name(policy.retire(info, at(t0 + 90s))) == "idle");
}

BOOST_AUTO_TEST_CASE(idle_timeout_keeps_a_connection_the_pool_may_not_lose) {
    const steady::time_point t0{1h};
    config.idle_timeout = 60s;
    const auto info = info_created_at(t0);
    const sqlpool::recycling::idle_timeout policy;
    // At min_connections, or on return (the pool says so with may_shrink = false): kept.
    BOOST_TEST(name(policy.retire(info, at(t0 + 1000h, false))) == "none");
    BOOST_TEST(name(sqlpool::recycling::standard{}.retire(info, at(t0 + 60s, false))) == "none");
    BOOST_TEST(name(sqlpool::recycling::standard{}.retire(info, at(t0 + 60s, true))) == "idle");
}

BOOST_AUTO_TEST_CASE(never_keeps_everything) {
    const steady::time_point t0{1h};
    auto info = info_created_at(t0);
    info.use_count = 1'000'000;
    config.max_uses = 1;
    BOOST_TEST(name(sqlpool::recycling::never{}.retire(info, at(t0 + 1000h))) == "none");
}

BOOST_AUTO_TEST_CASE(any_of_takes_the_first_policy_that_retires) {
    using sqlpool::retire_reason;
    const steady::time_point now{1h};
    const auto info = info_created_at(now);
    using uses_then_aged =
        sqlpool::recycling::any_of<always_retire<retire_reason::none>, always_retire<retire_reason::uses>,
                                   always_retire<retire_reason::aged>>;
    using aged_then_uses =
        sqlpool::recycling::any_of<always_retire<retire_reason::aged>, always_retire<retire_reason::uses>>;
    using nobody = sqlpool::recycling::any_of<sqlpool::recycling::never, always_retire<retire_reason::none>>;
    BOOST_TEST(name(uses_then_aged{}.retire(info, at(now))) == "uses");
    BOOST_TEST(name(aged_then_uses{}.retire(info, at(now))) == "aged");
    BOOST_TEST(name(nobody{}.retire(info, at(now))) == "none");
    BOOST_TEST(name(sqlpool::recycling::any_of<>{}.retire(info, at(now))) == "none");
}

BOOST_AUTO_TEST_CASE(standard_applies_every_config_knob) {
    const steady::time_point t0{1h};
    config.connection_max_age = 100s;
    config.max_age_jitter = 0.0;
    config.idle_timeout = 60s;
    config.max_uses = 10;
    auto info = info_created_at(t0);
    const sqlpool::recycling::standard policy;
    BOOST_TEST(name(policy.retire(info, at(t0 + 59s))) == "none");
    BOOST_TEST(name(policy.retire(info, at(t0 + 60s))) == "idle");
    info.last_used_at = t0 + 90s;
    BOOST_TEST(name(policy.retire(info, at(t0 + 100s))) == "aged");
    info.use_count = 10;
    BOOST_TEST(name(policy.retire(info, at(t0 + 91s))) == "uses");
    // Order: max_age, then max_uses, then idle_timeout.
    BOOST_TEST(name(policy.retire(info, at(t0 + 1000s))) == "aged");
}

BOOST_AUTO_TEST_SUITE_END()
