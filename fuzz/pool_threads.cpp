// pool_threads: libFuzzer target for the pool's locking under real threads (issue 12).
//
// pool_ops interleaves clients on one thread with locking::single_thread; this target runs the
// concurrent policies (locking::std_mutex or spin, with queue::barging, fifo or round_robin: the input
// picks one of four pairs) with 2 to 4 real worker
// threads over one
//   basic_pool<Locking, scripted_health, recycling::standard, isolation::deferred, Queue, manual_clock>
// on ":memory:", background maintenance off.
//
// The scheduler. The controller (the fuzzer's thread) holds the input and passes a baton: only
// the worker it chose runs, one command at a time, at points the input chooses. A command that
// may block (acquire, close, write) runs until it returns, parks in the pool's waiter queue, or
// stops at a gate. Gates are where the pool calls back on a worker's thread, outside its lock:
// the health check and on_connect (inner gates: the pool has connections out of its idle set or
// capacity reserved for this operation), on_acquire and on_timeout. A waiter woken by another
// thread runs only until its next gate, then waits for the baton like everyone else. After each
// step the controller waits until no worker is mid-call: every worker is idle, at a gate, or
// parked, which it knows because the pool's stats().waiting equals the number of workers inside a
// pool call (a waiter is counted from its enqueue until it is dequeued to be woken). The
// input names the worker to run next; naming a parked worker waits for its wait to end (its
// timeout, a few ms at most, within a per-input budget). The only events the input does not order
// are timeouts expiring while another worker runs, which race with it as they would in
// production. At the end every lease goes back, which frees every waiter.
//
// Commands: acquire / try_acquire with a timeout of 0-3 ms, release or destroy a lease, hand a
// lease to another worker (which then gives it back from its own thread), move-assign a lease onto
// another, close (0 or 1 ms close_timeout), maintain, health verdicts (a held connection fails
// its checks from now on, or the next N checks fail), write() that commits, write() whose body
// throws, read(), BEGIN IMMEDIATE left open on a lease, advance the pool's clock.
//
// The pool's default detect_nested_acquire is on: an acquire() by a worker that acquired a lease
// still out, when every connection is leased to waiting threads, fails at once with
// nested_acquire_error, which the worker checks was due (check_nested).
//
// Checked after every step: no connection id held by two leases (the listener also checks this as
// it happens, on every thread), the leases the workers hold (and connections handed to workers
// stopped at on_acquire) are exactly the ones the listener saw acquired and not released,
// total <= max_connections, idle + in_use == total, no waiter asleep while a connection is idle,
// nothing idle once closed. At quiescent points (no worker at an inner gate) the counts are exact:
// in_use == connections held, total == connections open, counters equal to the events heard;
// otherwise bounded. At the end every lease goes back, close() returns true, every connection was
// retired.
//
// Set POOL_THREADS_TRACE=1 to print the decoded steps of an input.
#include <fuzzer/FuzzedDataProvider.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <utility>
#include <vector>

#include "fuzz_check.hpp"
#include "support/manual_clock.hpp"

import sqlpool;

namespace {

using namespace std::chrono_literals;
using sqlpool::check_point;
using sqlpool::health_status;
using sqlpool::retire_reason;

constexpr std::size_t max_workers = 4;
constexpr std::size_t max_steps = 256;
constexpr std::size_t max_held = 3;         // leases a worker acquires at most (more may be handed to it)
constexpr unsigned blocking_budget_ms = 40; // the acquire and close timeouts one input may ask for

struct injected_body_failure {}; // thrown by a write() body

// ------------------------------------------------------------------------------------ scheduler

enum class op : std::uint8_t {
    acquire,
    try_acquire,
    release,
    drop,
    give,
    move_assign,
    close,
    maintain,
    health,
    transaction,
    dirty,
    advance,
    count,       // the commands above come from the input; the ones below from the controller
    release_all, // the end: give every lease back
    exit,
};

constexpr std::array<const char*, static_cast<std::size_t>(op::count)> op_names{
    "acquire", "try_acquire", "release", "drop",        "give",  "move_assign",
    "close",   "maintain",    "health",  "transaction", "dirty", "advance"};

struct command {
    op what = op::exit;
    unsigned a = 0;
    unsigned b = 0;
};

enum class phase : std::uint8_t { ready, running, gated };

// Where a gated worker stopped: handed a connection (on_acquire), timed out (on_timeout), or inside
// an operation (a health check, or on_connect after opening a connection), where the pool has
// taken connections out of its idle set, or reserved capacity, without a lease holding them.
enum class gate_kind : std::uint8_t { handed, timed_out, inner };

// The worker this thread is, or max_workers on the controller's thread (no gates there).
thread_local std::size_t this_worker = max_workers;

// The baton. A worker is ready (waiting for a command), running (it has the baton, or is inside a
// pool call: running and perhaps parked there), or gated (stopped in a listener event, waiting for
// the baton). Only the controller makes a worker running; only the worker makes itself ready or
// gated, so while the controller waits, the number of running workers only goes down.
class scheduler {
    using steady = std::chrono::steady_clock;

public:
    explicit scheduler(std::size_t workers) : workers_(workers) {}

    // Worker side: the last command is done; blocks until the controller hands over the next.
    command next(std::size_t w) {
        std::unique_lock lock(mutex_);
        slot& s = workers_.at(w);
        s.state = phase::ready;
        changed_.notify_all();
        changed_.wait(lock, [&] { return s.go; });
        s.go = false;
        return s.cmd;
    }

    // Worker side, from a listener event or a health check: stops here until the controller passes
    // the baton back. `held` is the connection the event hands this worker (on_acquire), if any.
    void gate(std::size_t w, gate_kind kind, std::optional<std::uint64_t> held = std::nullopt) {
        std::unique_lock lock(mutex_);
        slot& s = workers_.at(w);
        s.state = phase::gated;
        s.kind = kind;
        s.gated_on = held;
        changed_.notify_all();
        changed_.wait(lock, [&] { return s.go; });
        s.go = false;
        s.gated_on.reset();
    }

    // `wait` is the longest the command waits for a connection (acquire timeout), if it may.
    void start(std::size_t w, command cmd, std::optional<std::chrono::milliseconds> wait = std::nullopt) {
        const std::lock_guard lock(mutex_);
        slot& s = workers_.at(w);
        FUZZ_CHECK(s.state == phase::ready);
        s.cmd = cmd;
        s.deadline = wait ? steady::now() + *wait : steady::time_point::max();
        pass_baton(s);
    }

    void resume(std::size_t w) {
        const std::lock_guard lock(mutex_);
        slot& s = workers_.at(w);
        FUZZ_CHECK(s.state == phase::gated);
        pass_baton(s);
    }

    // Returns once no worker is mid-operation: every running worker is parked in the pool, and
    // none past its deadline (a waiter whose timeout expired leaves at once: waiting for it keeps
    // a zero-timeout acquire from racing the next step).
    // `waiting` reads the pool's stats().waiting. Equal counts mean every running worker is
    // parked: only workers call the pool while this waits, and a waiter is counted from its
    // enqueue until another thread dequeues it to wake it (or it times out). The running count
    // read before and after `waiting` is the same, so it held at that moment.
    template <class Waiting>
    void settle(const Waiting& waiting) {
        std::unique_lock lock(mutex_);
        while (true) {
            const std::size_t before = running_locked();
            lock.unlock();
            const std::size_t parked = waiting();
            lock.lock();
            if (running_locked() == before && parked == before && !expired_locked()) return;
            changed_.wait_for(lock, 50us);
        }
    }

    // Waits until worker w, parked in the pool, is ready or gated again (its timeout expired).
    void wait_while_running(std::size_t w) {
        std::unique_lock lock(mutex_);
        changed_.wait(lock, [&] { return workers_.at(w).state != phase::running; });
    }

    // With every worker parked: waits until one is ready or gated again (its timeout expired).
    void wait_for_candidate() {
        std::unique_lock lock(mutex_);
        changed_.wait_for(lock, 1ms, [&] { return running_locked() < workers_.size(); });
    }

    [[nodiscard]] std::vector<std::size_t> candidates() const {
        const std::lock_guard lock(mutex_);
        std::vector<std::size_t> found;
        for (std::size_t w = 0; w < workers_.size(); ++w)
            if (workers_.at(w).state != phase::running) found.push_back(w);
        return found;
    }

    [[nodiscard]] phase state(std::size_t w) const {
        const std::lock_guard lock(mutex_);
        return workers_.at(w).state;
    }

    [[nodiscard]] std::size_t running() const {
        const std::lock_guard lock(mutex_);
        return running_locked();
    }

    // Workers stopped inside an operation (gate_kind::inner).
    [[nodiscard]] std::size_t inner_gates() const {
        const std::lock_guard lock(mutex_);
        return static_cast<std::size_t>(std::ranges::count_if(
            workers_, [](const slot& s) { return s.state == phase::gated && s.kind == gate_kind::inner; }));
    }

    // The connections handed to workers stopped at on_acquire (their leases do not exist yet).
    [[nodiscard]] std::vector<std::uint64_t> gated_connections() const {
        const std::lock_guard lock(mutex_);
        std::vector<std::uint64_t> ids;
        for (const slot& s : workers_)
            if (s.state == phase::gated && s.gated_on) ids.push_back(*s.gated_on);
        return ids;
    }

private:
    struct slot {
        phase state = phase::running; // until its thread first asks for a command
        bool go = false;
        command cmd{};
        gate_kind kind = gate_kind::handed;
        std::optional<std::uint64_t> gated_on;
        steady::time_point deadline = steady::time_point::max(); // of its command's wait
    };

    void pass_baton(slot& s) {
        s.state = phase::running;
        s.go = true;
        changed_.notify_all();
    }

    [[nodiscard]] bool expired_locked() const {
        const auto now = steady::now();
        return std::ranges::any_of(
            workers_, [&](const slot& s) { return s.state == phase::running && s.deadline <= now; });
    }

    [[nodiscard]] std::size_t running_locked() const {
        return static_cast<std::size_t>(
            std::ranges::count_if(workers_, [](const slot& s) { return s.state == phase::running; }));
    }

    mutable std::mutex mutex_;
    std::condition_variable changed_;
    std::vector<slot> workers_;
};

// ---------------------------------------------------------------------------- model and hooks

// What the listener and the health policy heard, from every thread.
struct model {
    std::mutex mutex;
    scheduler* sched = nullptr;
    std::set<std::uint64_t> live;                     // opened, not retired
    std::set<std::uint64_t> leased;                   // acquired, not released
    std::map<std::uint64_t, std::size_t> acquired_by; // leased connection -> the worker that acquired it
    std::set<std::uint64_t> sick;                     // fail every health check
    unsigned fail_next_checks = 0;
    std::uint64_t acquires = 0;
    std::uint64_t timeouts = 0;
    std::uint64_t unhealthy = 0;
    bool closed = false; // set before close() is called
    bool trace = false;
};

// A health policy whose verdicts the input sets; the pool must only ask about unleased connections.
struct scripted_health {
    static constexpr check_point when =
        check_point::on_checkout | check_point::on_return | check_point::periodic;

    std::shared_ptr<model> m;

    health_status check(sqlpool::connection& conn, const sqlpool::connection_info& info, check_point) const {
        FUZZ_CHECK(!conn.in_transaction());
        // Outside the pool's lock, with the connection out of the idle set: others may run now,
        // and the verdict is read after they did.
        if (this_worker < max_workers) m->sched->gate(this_worker, gate_kind::inner);
        const std::lock_guard lock(m->mutex);
        FUZZ_CHECK(m->live.contains(info.id));
        FUZZ_CHECK(!m->leased.contains(info.id));
        bool bad = m->sick.contains(info.id);
        if (m->fail_next_checks > 0) {
            --m->fail_next_checks;
            bad = true;
        }
        if (!bad) return health_status::healthy;
        ++m->unhealthy;
        return health_status::unhealthy;
    }
};

// Records every event, checks that no connection is ever leased twice, and stops a worker at its
// gates: on_acquire and on_timeout run on the acquiring thread, after a waiter woke.
class recorder final : public sqlpool::pool_listener {
public:
    explicit recorder(std::shared_ptr<model> m) : m_(std::move(m)) {}

    void on_connect(const sqlpool::connection_info& info) override {
        {
            const std::lock_guard lock(m_->mutex);
            FUZZ_CHECK(m_->live.insert(info.id).second);
        }
        gate(gate_kind::inner); // opened for reserved capacity, not handed out or idle yet
    }

    void on_acquire(const sqlpool::connection_info& info, std::chrono::nanoseconds) override {
        {
            const std::lock_guard lock(m_->mutex);
            FUZZ_CHECK(m_->live.contains(info.id));
            FUZZ_CHECK(m_->leased.insert(info.id).second); // never two holders
            ++m_->acquires;
        }
        gate(gate_kind::handed, info.id);
    }

    void on_release(const sqlpool::connection_info& info) override {
        const std::lock_guard lock(m_->mutex);
        FUZZ_CHECK(m_->leased.erase(info.id) == 1);
        m_->acquired_by.erase(info.id);
    }

    void on_retire(const sqlpool::connection_info& info, retire_reason reason) override {
        const std::lock_guard lock(m_->mutex);
        FUZZ_CHECK(!m_->leased.contains(info.id));
        FUZZ_CHECK(m_->live.erase(info.id) == 1);
        FUZZ_CHECK(reason != retire_reason::none);
        if (reason == retire_reason::shutdown) FUZZ_CHECK(m_->closed);
    }

    void on_timeout(std::chrono::nanoseconds) override {
        {
            const std::lock_guard lock(m_->mutex);
            ++m_->timeouts;
        }
        gate(gate_kind::timed_out);
    }

    void on_close() override {
        const std::lock_guard lock(m_->mutex);
        FUZZ_CHECK(m_->closed);
    }

private:
    void gate(gate_kind kind, std::optional<std::uint64_t> held = std::nullopt) const {
        if (this_worker < max_workers) m_->sched->gate(this_worker, kind, held);
    }

    std::shared_ptr<model> m_;
};

// ------------------------------------------------------------------------------------- setup

enum class locking_kind : std::uint8_t { std_mutex, spin, fifo, round_robin };

struct setup {
    locking_kind locking = locking_kind::std_mutex;
    std::size_t workers = 2;
    std::size_t max_connections = 1;
    std::size_t min_connections = 0;
    unsigned acquire_timeout_ms = 1; // what write() and read() wait for a connection
    unsigned close_timeout_ms = 0;
    std::uint64_t max_uses = 0;
};

setup read_setup(FuzzedDataProvider& in) {
    setup s;
    s.locking = static_cast<locking_kind>(in.ConsumeIntegralInRange<unsigned>(0, 3));
    s.workers = in.ConsumeIntegralInRange<std::size_t>(2, max_workers);
    s.max_connections = in.ConsumeIntegralInRange<std::size_t>(1, 4);
    s.min_connections = in.ConsumeIntegralInRange<std::size_t>(0, s.max_connections);
    s.acquire_timeout_ms = in.ConsumeIntegralInRange<unsigned>(1, 3);
    s.close_timeout_ms = in.ConsumeIntegralInRange<unsigned>(0, 1);
    s.max_uses = in.ConsumeIntegralInRange<std::uint64_t>(0, 3);
    return s;
}

sqlpool::pool_config make_config(const setup& s, const std::shared_ptr<model>& m) {
    sqlpool::pool_config config;
    config.database = ":memory:";
    config.busy_timeout = 0ms; // a write lock held by another lease fails at once
    config.min_connections = s.min_connections;
    config.max_connections = s.max_connections;
    config.max_uses = s.max_uses;
    config.connection_max_age = 20s; // on the manual clock, which only `advance` moves
    config.idle_timeout = 5s;
    config.health_check_interval = 2s;
    config.max_age_jitter = 0.0;
    config.acquire_timeout = std::chrono::milliseconds(s.acquire_timeout_ms);
    config.transaction_timeout = 1ms;
    config.close_timeout = std::chrono::milliseconds(s.close_timeout_ms);
    config.background_maintenance = false; // maintain() is a command
    config.listener = std::make_shared<recorder>(m);
    return config;
}

// ----------------------------------------------------------------------------------- harness

template <class Locking, class Queue>
using fuzz_pool = sqlpool::basic_pool<Locking, scripted_health, sqlpool::recycling::standard,
                                      sqlpool::isolation::deferred, Queue, sqlpool_test::manual_clock>;

template <class Locking, class Queue = sqlpool::queue::barging>
class harness {
public:
    harness(FuzzedDataProvider& in, const setup& s)
        : in_(in), setup_(s), model_(std::make_shared<model>()), sched_(s.workers) {
        model_->sched = &sched_;
        // NOLINTNEXTLINE(concurrency-mt-unsafe): read before any worker thread exists
        model_->trace = std::getenv("POOL_THREADS_TRACE") != nullptr;
    }

    void run() {
        pool_.emplace(make_config(setup_, model_), scripted_health{model_}, sqlpool::recycling::standard{},
                      clock_);
        for (std::size_t w = 0; w < setup_.workers; ++w) threads_.emplace_back([this, w] { work(w); });
        for (std::size_t step = 0; step < max_steps && in_.remaining_bytes() > 0; ++step) {
            settle();
            check_quiescent();
            one_step();
        }
        drain();
        finish();
    }

private:
    // ---- the controller

    void settle() {
        sched_.settle([this] { return pool_->stats().waiting; });
    }

    // The input names a worker. One parked in the pool is waited for: its wait ends by itself
    // (a timeout of a few ms), and it stops at its gate. A gated worker resumes; a ready one gets
    // the next command.
    void one_step() {
        const auto w = in_.ConsumeIntegralInRange<std::size_t>(0, setup_.workers - 1);
        if (sched_.state(w) == phase::running) {
            trace("worker %zu: wait\n", w);
            sched_.wait_while_running(w);
            settle(); // others whose timeouts expired meanwhile reach their gates
        }
        if (sched_.state(w) == phase::gated) {
            trace("worker %zu: resume\n", w);
            sched_.resume(w);
            return;
        }
        const command cmd = read_command();
        trace("worker %zu: %s %u %u\n", w, op_names.at(static_cast<std::size_t>(cmd.what)), cmd.a, cmd.b);
        sched_.start(w, cmd, wait_of(cmd));
    }

    command read_command() {
        command cmd;
        cmd.what =
            static_cast<op>(in_.ConsumeIntegralInRange<unsigned>(0, static_cast<unsigned>(op::count) - 1));
        switch (cmd.what) {
        case op::acquire:
        case op::try_acquire:
            cmd.a = spend(in_.ConsumeIntegralInRange<unsigned>(0, 3)); // timeout in ms
            break;
        case op::close:
            cmd.a = spend(setup_.close_timeout_ms);
            break;
        case op::transaction:
            cmd.a = in_.ConsumeIntegralInRange<unsigned>(0, 2);
            // Waits up to acquire_timeout for a connection: skipped once the budget is spent.
            cmd.b = spend(setup_.acquire_timeout_ms + 1) != 0 ? 1 : 0;
            break;
        default:
            cmd.a = in_.ConsumeIntegralInRange<unsigned>(0, 7);
            cmd.b = in_.ConsumeIntegralInRange<unsigned>(0, 7);
            break;
        }
        return cmd;
    }

    // How long a command may wait in the pool for a connection (per acquire), if it may at all.
    std::optional<std::chrono::milliseconds> wait_of(const command& cmd) const {
        if (cmd.what == op::acquire || cmd.what == op::try_acquire) return std::chrono::milliseconds(cmd.a);
        if (cmd.what == op::transaction) return std::chrono::milliseconds(setup_.acquire_timeout_ms);
        return std::nullopt;
    }

    // What is left of the blocking budget caps every timeout, so no input waits long in total.
    unsigned spend(unsigned ms) {
        const unsigned granted = std::min(ms, budget_ms_);
        budget_ms_ -= granted;
        return granted;
    }

    // Every lease goes back: gated workers resume, workers holding leases give them back, parked
    // workers are handed a connection or time out, until every worker is ready and holds nothing.
    void drain() {
        while (true) {
            settle();
            check_quiescent();
            const std::vector<std::size_t> ready = sched_.candidates();
            if (ready.empty()) {
                sched_.wait_for_candidate();
                continue;
            }
            const auto gated = std::ranges::find_if(ready, [&](std::size_t w) {
                return sched_.state(w) == phase::gated || !held_.at(w).empty();
            });
            if (gated == ready.end() && ready.size() == setup_.workers) return;
            if (gated == ready.end()) {
                sched_.wait_for_candidate();
                continue;
            }
            if (sched_.state(*gated) == phase::gated)
                sched_.resume(*gated);
            else
                sched_.start(*gated, command{op::release_all});
        }
    }

    void finish() {
        FUZZ_CHECK(pool_->stats().in_use == 0);
        set_closed();
        FUZZ_CHECK(pool_->close()); // nothing is out: every connection closes
        const sqlpool::pool_stats s = pool_->stats();
        FUZZ_CHECK(s.total == 0 && s.idle == 0 && s.in_use == 0 && s.waiting == 0);
        for (std::size_t w = 0; w < setup_.workers; ++w) sched_.start(w, command{op::exit});
        for (std::thread& t : threads_) t.join();
        pool_.reset();
        const std::lock_guard lock(model_->mutex);
        FUZZ_CHECK(model_->live.empty());
        FUZZ_CHECK(model_->leased.empty());
    }

    // The pool's invariants after every step: no worker is running other than parked in the pool.
    // Workers stopped at an inner gate are mid-operation (each holds connections or capacity the
    // pool took out of its idle set or reserved); with none, the point is quiescent and the counts
    // are exact.
    void check_quiescent() {
        const std::vector<std::uint64_t> held = held_connections();
        const std::size_t inner = sched_.inner_gates();
        const std::uint64_t timeouts_before = model_timeouts();
        const std::size_t parked = sched_.running();
        const sqlpool::pool_stats s = pool_->stats();
        const std::lock_guard lock(model_->mutex);
        const std::set<std::uint64_t> distinct(held.begin(), held.end());
        FUZZ_CHECK(distinct.size() == held.size()); // never two holders of one connection
        FUZZ_CHECK(distinct == model_->leased);
        FUZZ_CHECK(s.max_connections == setup_.max_connections);
        FUZZ_CHECK(s.total <= s.max_connections);
        FUZZ_CHECK(s.idle + s.in_use == s.total);
        FUZZ_CHECK(s.waiting == 0 || s.idle == 0); // no waiter asleep next to an idle connection
        FUZZ_CHECK(!model_->closed || s.idle == 0);
        // Parked waiters may time out while this runs: each counts before its event arrives.
        FUZZ_CHECK(s.timeouts >= timeouts_before && s.timeouts <= model_->timeouts + parked);
        if (inner == 0) {
            FUZZ_CHECK(s.in_use == held.size()); // nothing is being opened, checked or given back
            FUZZ_CHECK(s.total == model_->live.size());
            FUZZ_CHECK(s.created - s.closed.total() == s.total);
            FUZZ_CHECK(s.acquired == model_->acquires);
            FUZZ_CHECK(s.failed_health_checks == model_->unhealthy);
        } else {
            FUZZ_CHECK(s.in_use >= held.size() + inner);
            FUZZ_CHECK(s.total >= model_->live.size());
            FUZZ_CHECK(s.created - s.closed.total() <= s.total);
            FUZZ_CHECK(s.acquired >= model_->acquires && s.acquired <= model_->acquires + inner);
            FUZZ_CHECK(s.failed_health_checks <= model_->unhealthy);
        }
    }

    std::vector<std::uint64_t> held_connections() const {
        std::vector<std::uint64_t> ids = sched_.gated_connections();
        for (std::size_t w = 0; w < setup_.workers; ++w)
            for (const sqlpool::lease& l : held_.at(w))
                if (l) ids.push_back(l.info().id); // empty: its release stopped at a gate
        return ids;
    }

    std::uint64_t model_timeouts() const {
        const std::lock_guard lock(model_->mutex);
        return model_->timeouts;
    }

    void set_closed() const {
        const std::lock_guard lock(model_->mutex);
        model_->closed = true;
    }

    bool closed() const {
        const std::lock_guard lock(model_->mutex);
        return model_->closed;
    }

    template <class... Args>
    void trace(const char* format, Args... args) const {
        if (model_->trace) std::fprintf(stderr, format, args...); // formats are literals in this file
    }

    // ---- the workers

    void work(std::size_t w) {
        this_worker = w;
        while (true) {
            const command cmd = sched_.next(w);
            if (cmd.what == op::exit) return;
            perform(w, cmd);
        }
    }

    void perform(std::size_t w, const command& cmd) {
        std::deque<sqlpool::lease>& mine = held_.at(w);
        switch (cmd.what) {
        case op::acquire:
        case op::try_acquire:
            do_acquire(w, cmd.what == op::acquire, std::chrono::milliseconds(cmd.a));
            break;
        case op::release:
        case op::drop:
            do_release(mine, cmd.a, cmd.what == op::release);
            break;
        case op::give:
            do_give(mine, cmd.a, held_.at(cmd.b % setup_.workers));
            break;
        case op::move_assign:
            do_move_assign(mine, cmd.a, cmd.b);
            break;
        case op::close:
            do_close(std::chrono::milliseconds(cmd.a));
            break;
        case op::maintain:
            pool_->maintain();
            break;
        case op::health:
            do_health(mine, cmd.a);
            break;
        case op::transaction:
            if (cmd.b != 0) do_transaction(cmd.a);
            break;
        case op::dirty:
            do_dirty(mine, cmd.a);
            break;
        case op::advance:
            clock_.advance(std::chrono::seconds(cmd.a + 1));
            break;
        case op::release_all:
            release_all(mine);
            break;
        case op::count:
        case op::exit:
            break;
        }
    }

    void do_acquire(std::size_t w, bool throwing, std::chrono::milliseconds timeout) {
        if (held_.at(w).size() >= max_held) return;
        const bool was_closed = closed(); // it may close while this worker waits at its gate
        try {
            std::optional<sqlpool::lease> got;
            if (throwing)
                got.emplace(pool_->acquire(timeout));
            else
                got = pool_->try_acquire(timeout);
            FUZZ_CHECK(!was_closed);
            if (!got) return;
            FUZZ_CHECK(static_cast<bool>(*got));
            FUZZ_CHECK(!(*got)->in_transaction());
            {
                const std::lock_guard lock(model_->mutex);
                FUZZ_CHECK(model_->leased.contains(got->info().id));
                model_->acquired_by[got->info().id] = w;
            }
            held_.at(w).push_back(std::move(*got));
        } catch (const sqlpool::timeout_error&) {
            FUZZ_CHECK(throwing);
        } catch (const sqlpool::nested_acquire_error&) {
            check_nested(w, throwing);
        } catch (const sqlpool::pool_closed_error&) {
            FUZZ_CHECK(closed());
        } catch (const sqlpool::busy_error&) {
            // Deliberately ignored: opening a connection reads the schema, which a memdb database
            // refuses at once (busy_timeout 0) while a lease holds its write lock.
        }
    }

    // detect_nested_acquire (on by default) refused an acquire at once. Only acquire() refuses
    // (try_acquire() waits), only a worker that acquired a lease still out (even one it gave to
    // another worker: the pool knows the acquiring thread only), and only when every connection
    // is leased. Nothing can give one back before this runs: the other workers are parked, gated
    // or ready. That every holder waits is not checked here: a parked worker may time out.
    void check_nested(std::size_t w, bool throwing) const {
        trace("worker %zu: refused as a nested acquire\n", w);
        FUZZ_CHECK(throwing);
        FUZZ_CHECK(!closed());
        const sqlpool::pool_stats s = pool_->stats();
        FUZZ_CHECK(s.total == s.max_connections && s.idle == 0 && s.in_use == s.total);
        const std::lock_guard lock(model_->mutex);
        FUZZ_CHECK(
            std::ranges::any_of(model_->acquired_by, [w](const auto& entry) { return entry.second == w; }));
    }

    // A lease gives its connection back (and may stop at a gate there) only while `mine` is not
    // being restructured: another worker may hand this one a lease meanwhile (push_back, which
    // keeps references to the elements valid, not iterators).
    static void do_release(std::deque<sqlpool::lease>& mine, unsigned k, bool explicitly) {
        if (mine.empty()) return;
        const std::size_t at = k % mine.size();
        if (explicitly) {
            mine.at(at).release();
            FUZZ_CHECK(!mine.at(at));
            mine.erase(mine.begin() + static_cast<std::ptrdiff_t>(at));
            return;
        }
        const sqlpool::lease gone = std::move(mine.at(at));
        mine.erase(mine.begin() + static_cast<std::ptrdiff_t>(at));
    } // destroying `gone` gives its connection back

    // One at a time, each left in `mine` until it is back: the harness sees the others held.
    static void release_all(std::deque<sqlpool::lease>& mine) {
        while (!mine.empty()) {
            mine.front().release();
            mine.pop_front();
        }
    }

    // Hands a lease to another worker, whose thread gives it back later.
    static void do_give(std::deque<sqlpool::lease>& mine, unsigned k, std::deque<sqlpool::lease>& to) {
        if (mine.empty() || &mine == &to) return;
        const auto at = mine.begin() + static_cast<std::ptrdiff_t>(k % mine.size());
        to.push_back(std::move(*at));
        FUZZ_CHECK(!*at);
        mine.erase(at);
    }

    // Move-assigns lease k onto lease j, which gives j's connection back first.
    static void do_move_assign(std::deque<sqlpool::lease>& mine, unsigned k, unsigned j) {
        if (mine.size() < 2) return;
        const std::size_t from = k % mine.size();
        std::size_t to = j % mine.size();
        if (to == from) to = (to + 1) % mine.size();
        mine.at(to) = std::move(mine.at(from));
        FUZZ_CHECK(!mine.at(from) && static_cast<bool>(mine.at(to)));
        bool refused = false;
        try {
            (void)mine.at(from).get();
        } catch (const sqlpool::misuse_error&) {
            refused = true;
        }
        FUZZ_CHECK(refused);
        mine.erase(mine.begin() + static_cast<std::ptrdiff_t>(from));
    }

    // Every other worker is idle, gated or parked: only the leases held now, and workers stopped
    // inside an operation (each holds a connection or reserved capacity), can keep close() from
    // closing every connection, and nothing can bring them back while it waits.
    void do_close(std::chrono::milliseconds timeout) {
        const bool nothing_out = held_connections().empty() && sched_.inner_gates() == 0;
        set_closed();
        const bool all_closed = pool_->close(timeout).complete;
        FUZZ_CHECK(all_closed == nothing_out);
        FUZZ_CHECK(pool_->closed());
    }

    // 0-3: the held lease's connection fails every check from now on; 4-7: the next 0-3 checks fail.
    void do_health(const std::deque<sqlpool::lease>& mine, unsigned k) const {
        const std::lock_guard lock(model_->mutex);
        if (k >= 4)
            model_->fail_next_checks = k - 4;
        else if (!mine.empty())
            model_->sick.insert(mine.at(k % mine.size()).info().id);
    }

    static void do_dirty(std::deque<sqlpool::lease>& mine, unsigned k) {
        if (mine.empty()) return;
        try {
            mine.at(k % mine.size())->exec("BEGIN IMMEDIATE"); // left open: rolled back on return
        } catch (const sqlpool::error&) {
            // Deliberately ignored: busy (another lease writes) or already in a transaction.
        }
    }

    void do_transaction(unsigned kind) {
        try {
            if (kind == 2) {
                (void)pool_->read([](sqlpool::connection& conn) {
                    return conn.query_value<std::int64_t>("SELECT count(*) FROM sqlite_schema");
                });
                return;
            }
            (void)pool_->write([kind](sqlpool::connection& conn) {
                FUZZ_CHECK(conn.in_transaction());
                conn.exec("CREATE TABLE IF NOT EXISTS t(x INTEGER)");
                conn.exec("INSERT INTO t VALUES (1)");
                if (kind == 1) throw injected_body_failure{};
                return conn.changes();
            });
        } catch (const injected_body_failure&) {
            FUZZ_CHECK(kind == 1);
        } catch (const sqlpool::pool_closed_error&) {
            FUZZ_CHECK(closed());
        } catch (const sqlpool::error&) {
            // Deliberately ignored: busy (a lease holds the write lock), timeout (none free).
        }
    }

    FuzzedDataProvider& in_;
    setup setup_;
    std::shared_ptr<model> model_;
    scheduler sched_;
    sqlpool_test::manual_clock clock_; // copies share one time: the pool holds another copy
    std::optional<fuzz_pool<Locking, Queue>> pool_;
    std::array<std::deque<sqlpool::lease>, max_workers> held_;
    std::vector<std::thread> threads_;
    unsigned budget_ms_ = blocking_budget_ms;
};

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    FuzzedDataProvider in(data, size);
    const setup s = read_setup(in);
    switch (s.locking) {
    case locking_kind::std_mutex:
        harness<sqlpool::locking::std_mutex>(in, s).run();
        break;
    case locking_kind::spin:
        harness<sqlpool::locking::spin>(in, s).run();
        break;
    case locking_kind::fifo:
        harness<sqlpool::locking::std_mutex, sqlpool::queue::fifo>(in, s).run();
        break;
    case locking_kind::round_robin:
        harness<sqlpool::locking::spin, sqlpool::queue::round_robin>(in, s).run();
        break;
    }
    return 0;
}
