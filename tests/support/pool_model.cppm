// sqlpool_test.pool_model: the model-based test of basic_pool (rapidcheck's rc::state) for any
// backend: random sequences of acquire, release (some leaving a transaction open), clock steps,
// health failures, maintenance and close, applied to a model and to a real pool (single_thread
// locking, manual clock); invariants checked after every command. A failure shrinks to the
// shortest sequence that shows it. A module, so that its importers keep every #include before
// their imports. A Backend gives
//   source        the pool's session source (sqlite_source, postgres::source)
//   isolation     its isolation policy
//   database()    the pool_config's database
//   clean(conn)   whether a session handed out is as a new borrower must find it
module;
#include <rapidcheck.h>
#include <rapidcheck/state.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <ostream>
#include <set>
#include <vector>

#include "manual_clock.hpp"

export module sqlpool_test.pool_model;
import sqlpool;

export namespace sqlpool_test::pool_model {

// Fails the connection whose id is in `failing` (0: none).
template <class Connection>
struct switchable_health {
    static constexpr sqlpool::check_point when =
        sqlpool::check_point::on_checkout | sqlpool::check_point::periodic;
    std::shared_ptr<std::atomic<std::uint64_t>> failing = std::make_shared<std::atomic<std::uint64_t>>(0);
    sqlpool::health_status check(Connection&, const sqlpool::connection_info& info,
                                 sqlpool::check_point) const noexcept {
        return info.id == failing->load() ? sqlpool::health_status::unhealthy
                                          : sqlpool::health_status::healthy;
    }
};

struct model {
    std::size_t max = 3;
    std::size_t min = 1;
    std::size_t held = 0;
    bool closed = false;
};

template <class Backend>
struct system_under_test {
    using connection_type = typename Backend::source::session_type;
    using health_type = switchable_health<connection_type>;
    using pool_type = sqlpool::basic_pool<sqlpool::locking::single_thread, health_type,
                                          sqlpool::recycling::standard, typename Backend::isolation,
                                          sqlpool::queue::barging, manual_clock, typename Backend::source>;

    manual_clock clock;
    health_type health;
    std::unique_ptr<pool_type> pool;
    std::vector<typename pool_type::lease> leases;
    // Connections are checked when they come out of the idle list, not when freshly opened, so
    // "never handed out" only holds for a failing connection that already existed.
    bool failing_connection_existed = false;

    explicit system_under_test(const model& m) {
        using namespace std::chrono_literals;
        sqlpool::pool_config config;
        config.database = Backend::database();
        config.min_connections = m.min;
        config.max_connections = m.max;
        config.connection_max_age = 60s;
        config.idle_timeout = 30s;
        config.health_check_interval = 10s;
        config.background_maintenance = false;
        pool = std::make_unique<pool_type>(config, health, sqlpool::recycling::standard{}, clock);
    }
};

template <class Backend>
using command = rc::state::Command<model, system_under_test<Backend>>;

template <class Backend>
void check_invariants(const model& m, system_under_test<Backend>& s) {
    const auto st = s.pool->stats();
    RC_ASSERT(st.in_use == s.leases.size());
    RC_ASSERT(s.leases.size() == m.held);
    RC_ASSERT(st.total <= m.max);
    RC_ASSERT(st.idle + st.in_use == st.total);
    std::set<std::uint64_t> ids;
    for (const auto& lease : s.leases) RC_ASSERT(ids.insert(lease.info().id).second); // no double lease
    if (m.closed) RC_ASSERT(st.idle == 0U);
}

template <class Backend>
struct acquire final : command<Backend> {
    void apply(model& m) const override {
        if (!m.closed && m.held < m.max) ++m.held;
    }
    void run(const model& m, system_under_test<Backend>& s) const override {
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
        check_invariants(this->nextState(m), s);
    }
    void show(std::ostream& os) const override { os << "acquire"; }
};

template <class Backend>
struct release final : command<Backend> {
    std::size_t index = *rc::gen::inRange<std::size_t>(0, 16);
    bool leave_open = *rc::gen::arbitrary<bool>();
    void checkPreconditions(const model& m) const override { RC_PRE(m.held > 0U); }
    void apply(model& m) const override { --m.held; }
    void run(const model& m, system_under_test<Backend>& s) const override {
        const auto at = s.leases.begin() + static_cast<std::ptrdiff_t>(index % s.leases.size());
        if (leave_open) (void)(*at)->exec("BEGIN"); // a borrower that leaves a transaction open
        s.leases.erase(at);
        check_invariants(this->nextState(m), s);
        if (!m.closed) {
            // The next borrower of any idle connection starts clean.
            if (auto next = s.pool->try_acquire()) RC_ASSERT(Backend::clean(**next));
        }
    }
    void show(std::ostream& os) const override { os << "release " << index << (leave_open ? " (open)" : ""); }
};

template <class Backend>
struct advance_clock final : command<Backend> {
    int seconds = *rc::gen::inRange(1, 90);
    void run(const model& m, system_under_test<Backend>& s) const override {
        s.clock.advance(std::chrono::seconds(seconds));
        check_invariants(m, s);
    }
    void show(std::ostream& os) const override { os << "advance " << seconds << "s"; }
};

template <class Backend>
struct fail_health final : command<Backend> {
    std::uint64_t id = *rc::gen::inRange<std::uint64_t>(1, 12);
    void run(const model& m, system_under_test<Backend>& s) const override {
        s.health.failing->store(id);
        s.failing_connection_existed = id <= s.pool->stats().created;
        check_invariants(m, s);
    }
    void show(std::ostream& os) const override { os << "fail health of connection " << id; }
};

template <class Backend>
struct maintain final : command<Backend> {
    void run(const model& m, system_under_test<Backend>& s) const override {
        s.pool->maintain();
        check_invariants(m, s);
        if (!m.closed) RC_ASSERT(s.pool->stats().total >= std::min(m.min, m.max)); // replenished to min
    }
    void show(std::ostream& os) const override { os << "maintain"; }
};

template <class Backend>
struct close_pool final : command<Backend> {
    void apply(model& m) const override { m.closed = true; }
    void run(const model& m, system_under_test<Backend>& s) const override {
        const bool drained = s.pool->close(std::chrono::milliseconds(0)).complete;
        RC_ASSERT(drained == s.leases.empty());
        check_invariants(this->nextState(m), s);
    }
    void show(std::ostream& os) const override { os << "close"; }
};

// One property run: a pool of random bounds driven by a random command sequence, then every
// lease returned.
template <class Backend>
void check() {
    model initial;
    initial.max = *rc::gen::inRange<std::size_t>(1, 5);
    initial.min = *rc::gen::inRange<std::size_t>(0, initial.max + 1);
    system_under_test<Backend> sut(initial);
    rc::state::check(
        initial, sut,
        rc::state::gen::execOneOfWithArgs<acquire<Backend>, acquire<Backend>, release<Backend>,
                                          release<Backend>, advance_clock<Backend>, fail_health<Backend>,
                                          maintain<Backend>, close_pool<Backend>>());
    sut.leases.clear();
    const auto st = sut.pool->stats();
    RC_ASSERT(st.in_use == 0U);
    RC_ASSERT(st.idle == st.total);
}

} // namespace sqlpool_test::pool_model
