// host: start order, stop order, failures while starting and stopping, and the probes, with
// components written here and with a real database service.
#define BOOST_TEST_MODULE host
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <cstdint>
#include <exception>
#include <latch>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "support/temp_dir.hpp"
#include "support/thrown.hpp"

import sqlpool;

namespace {

// What the fake components did, in order: "start a", "stop b".
struct journal {
    std::mutex mutex;
    std::vector<std::string> lines;
    void write(std::string line) {
        const std::lock_guard lock(mutex);
        lines.push_back(std::move(line));
    }
};

// A component that writes what it does, and fails where it is told to.
struct fake {
    fake(journal& j, std::string name) : log(&j), name(std::move(name)) {}
    void start() {
        if (fail_start) throw std::runtime_error(name + " cannot start");
        log->write("start " + name);
        state_ = sqlpool::service_state::running;
    }
    void stop() {
        if (state_ != sqlpool::service_state::running) return;
        log->write("stop " + name);
        state_ = sqlpool::service_state::stopped;
        if (fail_stop) throw std::runtime_error(name + " stopped badly");
    }
    [[nodiscard]] sqlpool::service_state state() const { return state_.load(); }
    [[nodiscard]] sqlpool::health_report health() {
        sqlpool::health_report r;
        if (state_ != sqlpool::service_state::running) r.add(sqlpool::availability::down, "not running");
        if (!why.empty()) r.add(level, why);
        return r;
    }
    [[nodiscard]] bool live() const { return alive; }
    [[nodiscard]] bool ready() const { return state_ == sqlpool::service_state::running; }

    journal* log;
    std::string name;
    bool fail_start = false;
    bool fail_stop = false;
    bool alive = true;
    sqlpool::availability level = sqlpool::availability::up;
    std::string why;
    std::atomic<sqlpool::service_state> state_{sqlpool::service_state::created};
};

std::vector<std::string> problems_of(const sqlpool::host& h) {
    const auto e = sqlpool_test::thrown<sqlpool::config_error>([&] { (void)h.start_order(); });
    return e ? e->problems() : std::vector<std::string>{};
}

} // namespace

BOOST_AUTO_TEST_CASE(starts_each_after_what_it_needs_and_stops_in_reverse) {
    journal j;
    fake api{j, "api"}, db{j, "db"}, cache{j, "cache"}, jobs{j, "jobs"};
    {
        sqlpool::host h;
        h.add("api", api, {"db", "cache"}).add("db", db).add("jobs", jobs, {"db"}).add("cache", cache);
        BOOST_TEST((h.start_order() == std::vector<std::string>{"db", "jobs", "cache", "api"}));
        h.start();
        BOOST_TEST((h.state() == sqlpool::service_state::running));
        BOOST_TEST(h.ready());
        BOOST_TEST(h.stop().empty());
        BOOST_TEST((h.state() == sqlpool::service_state::stopped));
    }
    BOOST_TEST((j.lines == std::vector<std::string>{"start db", "start jobs", "start cache", "start api",
                                                    "stop api", "stop cache", "stop jobs", "stop db"}));
}

BOOST_AUTO_TEST_CASE(every_naming_problem_is_reported_at_once_and_nothing_starts) {
    journal j;
    fake a{j, "a"}, b{j, "b"}, c{j, "c"}, d{j, "d"}, e{j, "e"}, a2{j, "a"};
    sqlpool::host h;
    h.add("a", a, {"b"}).add("b", b, {"a"}).add("c", c, {"missing"}).add("d", d, {"d"}).add("a", a2);
    h.add("e", e, {"a"}); // waits on the cycle but is not in it
    const auto problems = problems_of(h);
    BOOST_REQUIRE(problems.size() == 4u);
    BOOST_TEST(problems[0] == "component name 'a' is added twice");
    BOOST_TEST(problems[1] == "component 'c' needs 'missing', which is not added");
    BOOST_TEST(problems[2] == "dependency cycle: a -> b -> a");
    BOOST_TEST(problems[3] == "dependency cycle: d -> d");
    BOOST_CHECK_THROW(h.start(), sqlpool::config_error);
    BOOST_TEST(j.lines.empty());
    BOOST_TEST((h.state() == sqlpool::service_state::created));
}

BOOST_AUTO_TEST_CASE(a_failed_start_stops_what_started_and_names_the_component) {
    journal j;
    fake db{j, "db"}, cache{j, "cache"}, api{j, "api"}, late{j, "late"};
    cache.fail_start = true;
    sqlpool::host h;
    h.add("db", db).add("cache", cache, {"db"}).add("api", api, {"cache"}).add("late", late);
    std::string component, what, nested;
    try {
        h.start();
    } catch (const sqlpool::start_error& e) {
        component = e.component();
        what = e.what();
        try {
            std::rethrow_if_nested(e); // the component's own exception
        } catch (const std::runtime_error& original) {
            nested = original.what();
        }
    }
    BOOST_TEST(component == "cache");
    BOOST_TEST(what == "component 'cache' failed to start: cache cannot start");
    BOOST_TEST(nested == "cache cannot start");
    BOOST_TEST((j.lines == std::vector<std::string>{"start db", "stop db"}));
    BOOST_TEST((h.state() == sqlpool::service_state::stopped));
    BOOST_TEST(!h.ready());
    cache.fail_start = false; // fixed: the host starts again
    h.start();
    BOOST_TEST(h.ready());
}

BOOST_AUTO_TEST_CASE(stop_goes_on_past_a_component_that_fails_to_stop) {
    journal j;
    fake db{j, "db"}, api{j, "api"};
    api.fail_stop = true;
    sqlpool::host h;
    h.add("db", db).add("api", api, {"db"});
    h.start();
    const auto problems = h.stop();
    BOOST_TEST((problems == std::vector<std::string>{"api: api stopped badly"}));
    BOOST_TEST((db.state() == sqlpool::service_state::stopped));
    BOOST_TEST(h.stop().empty()); // stopped already: nothing to do
}

BOOST_AUTO_TEST_CASE(components_are_added_before_start) {
    journal j;
    fake a{j, "a"}, b{j, "b"};
    sqlpool::host h;
    h.add("a", a);
    h.start();
    const auto e = sqlpool_test::thrown<sqlpool::state_error>([&] { h.add("b", b); });
    BOOST_REQUIRE(e.has_value());
    BOOST_TEST(std::string(e->what()).find("host is running") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(health_is_the_worst_answer_with_each_reason_named) {
    journal j;
    fake db{j, "db"}, api{j, "api"};
    sqlpool::host h;
    h.add("db", db).add("api", api, {"db"});
    auto before = h.health();
    BOOST_TEST((before.status == sqlpool::availability::down));
    BOOST_TEST(before.reasons.front() == "the host is created");
    h.start();
    BOOST_TEST(h.health().to_string() == "up");
    db.level = sqlpool::availability::degraded;
    db.why = "slow disk";
    BOOST_TEST(h.health().to_string() == "degraded: db: slow disk");
    BOOST_TEST(h.ready()); // degraded still takes work
    const auto each = h.health_by_component();
    BOOST_REQUIRE(each.size() == 2u);
    BOOST_TEST(each[0].name == "db");
    BOOST_TEST((each[1].report.status == sqlpool::availability::up));
    api.alive = false;
    BOOST_TEST(!h.live());
    api.alive = true;
    BOOST_TEST(h.live());
    h.stop();
    const auto after = h.health();
    BOOST_TEST((after.status == sqlpool::availability::down));
    BOOST_TEST(after.to_string().find("api: not running") != std::string::npos);
}

// A component blocked in start(): another thread's probes answer meanwhile, and say not ready.
BOOST_AUTO_TEST_CASE(probes_answer_while_a_start_is_under_way) {
    struct slow : fake {
        using fake::fake;
        std::latch* entered = nullptr;
        std::latch* release = nullptr;
        void start() {
            entered->count_down();
            release->wait();
            fake::start();
        }
    };
    journal j;
    std::latch entered{1}, release{1};
    slow s{j, "slow"};
    s.entered = &entered;
    s.release = &release;
    sqlpool::host h;
    h.add("slow", s);
    std::jthread starter([&] { h.start(); });
    entered.wait();
    BOOST_TEST((h.state() == sqlpool::service_state::starting));
    BOOST_TEST(!h.ready());
    BOOST_TEST(h.live());
    BOOST_TEST(h.health().to_string().find("the host is starting") != std::string::npos);
    release.count_down();
    starter.join();
    BOOST_TEST(h.ready());
}

// The database service in a host, with a component that uses it while it starts and stops: the
// host must start the database first and stop it last.
BOOST_AUTO_TEST_CASE(a_database_and_a_component_that_needs_it) {
    struct audit {
        sqlpool::database* db = nullptr;
        sqlpool::service_state s = sqlpool::service_state::created;
        void start() {
            db->exec("INSERT INTO log(what) VALUES('audit started')");
            s = sqlpool::service_state::running;
        }
        void stop() {
            db->exec("INSERT INTO log(what) VALUES('audit stopped')");
            s = sqlpool::service_state::stopped;
        }
        [[nodiscard]] sqlpool::service_state state() const { return s; }
        [[nodiscard]] sqlpool::health_report health() { return db->health(); }
        [[nodiscard]] bool live() const { return db->live(); }
        [[nodiscard]] bool ready() { return s == sqlpool::service_state::running && db->ready(); }
    };
    sqlpool_test::temp_dir dir{"host"};
    sqlpool::database db{{.pool = {.database = dir.file("h.db"), .max_connections = 2},
                          .schema = {.migrations = {{1, "log", "CREATE TABLE log(what TEXT NOT NULL)"}}}}};
    audit a{&db};
    {
        sqlpool::host h;
        h.add("audit", a, {"db"}).add("db", db);
        h.start();
        BOOST_TEST(h.ready());
        BOOST_TEST(h.health().to_string() == "up");
    } // the destructor stops both: audit first, while the database still runs
    BOOST_TEST((db.state() == sqlpool::service_state::stopped));
    db.start();
    BOOST_TEST(db.query<std::string>("SELECT what FROM log ORDER BY rowid").size() == 2u);
}
