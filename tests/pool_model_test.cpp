// Model-based test of basic_pool (rapidcheck's rc::state): random sequences of acquire, release,
// clock steps, health failures, maintenance and close, applied to a model and to a real pool
// (single_thread locking, manual clock); invariants checked after every command. A failure
// shrinks to the shortest sequence that shows it.
#define BOOST_TEST_MODULE pool_model
#include <boost/test/unit_test.hpp>

#include <rapidcheck.h>
#include <rapidcheck/boost_test.h>
#include <rapidcheck/state.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <vector>

#include "support/manual_clock.hpp"

import sqlpool;

using namespace std::chrono_literals;

namespace {

// Fails the connection whose id is in `failing` (0: none).
struct switchable_health {
    static constexpr sqlpool::check_point when =
        sqlpool::check_point::on_checkout | sqlpool::check_point::periodic;
    std::shared_ptr<std::atomic<std::uint64_t>> failing = std::make_shared<std::atomic<std::uint64_t>>(0);
    sqlpool::health_status check(sqlpool::connection&, const sqlpool::connection_info& info,
                                 sqlpool::check_point) const noexcept {
        return info.id == failing->load() ? sqlpool::health_status::unhealthy
                                          : sqlpool::health_status::healthy;
    }
};

using pool_type =
    sqlpool::basic_pool<sqlpool::locking::single_thread, switchable_health, sqlpool::recycling::standard,
                        sqlpool::isolation::deferred, sqlpool::queue::barging, sqlpool_test::manual_clock>;

struct model {
    std::size_t max = 3;
    std::size_t min = 1;
    std::size_t held = 0;
    bool closed = false;
};

struct system_under_test {
    sqlpool_test::manual_clock clock;
    switchable_health health;
    std::unique_ptr<pool_type> pool;
    std::vector<sqlpool::lease> leases;
    // Connections are checked when they come out of the idle list, not when freshly opened, so
    // "never handed out" only holds for a failing connection that already existed.
    bool failing_connection_existed = false;

    system_under_test(const model& m) {
        pool = std::make_unique<pool_type>(sqlpool::pool_config{.database = ":memory:",
                                                                .min_connections = m.min,
                                                                .max_connections = m.max,
                                                                .connection_max_age = 60s,
                                                                .idle_timeout = 30s,
                                                                .health_check_interval = 10s,
                                                                .background_maintenance = false},
                                           health, sqlpool::recycling::standard{}, clock);
    }
};

using command = rc::state::Command<model, system_under_test>;

void check_invariants(const model& m, system_under_test& s) {
    const auto st = s.pool->stats();
    RC_ASSERT(st.in_use == s.leases.size());
    RC_ASSERT(s.leases.size() == m.held);
    RC_ASSERT(st.total <= m.max);
    RC_ASSERT(st.idle + st.in_use == st.total);
    std::set<std::uint64_t> ids;
    for (const auto& lease : s.leases) RC_ASSERT(ids.insert(lease.info().id).second); // no double lease
    if (m.closed) RC_ASSERT(st.idle == 0u);
}

struct acquire final : command {
    void apply(model& m) const override {
        if (!m.closed && m.held < m.max) ++m.held;
    }
    void run(const model& m, system_under_test& s) const override {
        if (m.closed) {
            RC_ASSERT_THROWS_AS((void)s.pool->try_acquire(), sqlpool::pool_closed_error);
        } else {
            auto lease = s.pool->try_acquire();
            RC_ASSERT(lease.has_value() == (m.held < m.max));
            if (lease) {
                // A connection that fails its health check is never handed out.
                RC_ASSERT(!(s.failing_connection_existed && lease->info().id == s.health.failing->load()));
                s.leases.push_back(std::move(*lease));
            }
        }
        check_invariants(nextState(m), s);
    }
    void show(std::ostream& os) const override { os << "acquire"; }
};

struct release final : command {
    std::size_t index = *rc::gen::inRange<std::size_t>(0, 16);
    void checkPreconditions(const model& m) const override { RC_PRE(m.held > 0u); }
    void apply(model& m) const override { --m.held; }
    void run(const model& m, system_under_test& s) const override {
        const auto at = s.leases.begin() + static_cast<std::ptrdiff_t>(index % s.leases.size());
        if (*rc::gen::arbitrary<bool>()) (*at)->exec("BEGIN"); // a borrower that leaves a transaction open
        s.leases.erase(at);
        check_invariants(nextState(m), s);
        if (!m.closed) {
            // The next borrower of any idle connection starts clean.
            if (auto next = s.pool->try_acquire()) {
                RC_ASSERT(!(*next)->in_transaction());
                RC_ASSERT((*next)->busy_statement_count() == 0u);
            }
        }
    }
    void show(std::ostream& os) const override { os << "release " << index; }
};

struct advance_clock final : command {
    int seconds = *rc::gen::inRange(1, 90);
    void run(const model& m, system_under_test& s) const override {
        s.clock.advance(std::chrono::seconds(seconds));
        check_invariants(m, s);
    }
    void show(std::ostream& os) const override { os << "advance " << seconds << "s"; }
};

struct fail_health final : command {
    std::uint64_t id = *rc::gen::inRange<std::uint64_t>(1, 12);
    void run(const model& m, system_under_test& s) const override {
        s.health.failing->store(id);
        s.failing_connection_existed = id <= s.pool->stats().created;
        check_invariants(m, s);
    }
    void show(std::ostream& os) const override { os << "fail health of connection " << id; }
};

struct maintain final : command {
    void run(const model& m, system_under_test& s) const override {
        s.pool->maintain();
        check_invariants(m, s);
        const auto st = s.pool->stats();
        if (!m.closed) {
            RC_ASSERT(st.total >= std::min(m.min, m.max)); // replenished to min
        }
    }
    void show(std::ostream& os) const override { os << "maintain"; }
};

struct close_pool final : command {
    void apply(model& m) const override { m.closed = true; }
    void run(const model& m, system_under_test& s) const override {
        const bool drained = s.pool->close(std::chrono::milliseconds(0)).complete;
        RC_ASSERT(drained == s.leases.empty());
        check_invariants(nextState(m), s);
    }
    void show(std::ostream& os) const override { os << "close"; }
};

} // namespace

RC_BOOST_PROP(pool_behaves_like_its_model, ()) {
    model initial;
    initial.max = *rc::gen::inRange<std::size_t>(1, 5);
    initial.min = *rc::gen::inRange<std::size_t>(0, initial.max + 1);
    system_under_test sut(initial);
    rc::state::check(initial, sut,
                     rc::state::gen::execOneOfWithArgs<acquire, acquire, release, release, advance_clock,
                                                       fail_health, maintain, close_pool>());
    sut.leases.clear();
    const auto st = sut.pool->stats();
    RC_ASSERT(st.in_use == 0u);
    RC_ASSERT(st.idle == st.total);
}
