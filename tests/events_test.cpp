#define BOOST_TEST_MODULE events
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>

#include "support/enum_names.hpp"
#include "support/scratch_dir.hpp"

import sqlpool;

using namespace std::chrono_literals;

namespace {

// Counts every event by name.
class recorder : public sqlpool::pool_listener {
public:
    std::map<std::string, int> counts() const {
        std::lock_guard lock(mutex_);
        return counts_;
    }
    void on_connect(const sqlpool::connection_info&) override { count("connect"); }
    void on_acquire(const sqlpool::connection_info&, std::chrono::nanoseconds) override { count("acquire"); }
    void on_release(const sqlpool::connection_info&) override { count("release"); }
    void on_retire(const sqlpool::connection_info&, sqlpool::retire_reason reason) override {
        count(std::string("retire:") + sqlpool::to_string(reason));
    }
    void on_health_check_failed(const sqlpool::connection_info&, sqlpool::check_point) override {
        count("health_check_failed");
    }
    void on_timeout(std::chrono::nanoseconds) override { count("timeout"); }
    void on_busy_retry(std::uint64_t, const sqlpool::busy_error&) override { count("busy_retry"); }
    void on_close() override { count("close"); }

private:
    void count(const std::string& name) {
        std::lock_guard lock(mutex_);
        ++counts_[name];
    }
    mutable std::mutex mutex_;
    std::map<std::string, int> counts_;
};

// Throws from every event.
class thrower : public sqlpool::pool_listener {
public:
    void on_connect(const sqlpool::connection_info&) override { throw std::runtime_error("connect"); }
    void on_acquire(const sqlpool::connection_info&, std::chrono::nanoseconds) override {
        throw std::runtime_error("acquire");
    }
    void on_release(const sqlpool::connection_info&) override { throw std::runtime_error("release"); }
    void on_retire(const sqlpool::connection_info&, sqlpool::retire_reason) override {
        throw std::runtime_error("retire");
    }
    void on_close() override { throw std::runtime_error("close"); }
};

struct failing {
    static constexpr sqlpool::check_point when = sqlpool::check_point::on_return;
    sqlpool::health_status check(sqlpool::connection&, const sqlpool::connection_info&,
                                 sqlpool::check_point) const {
        return sqlpool::health_status::unhealthy;
    }
};

sqlpool::pool_config config_for(const std::string& path, std::shared_ptr<sqlpool::pool_listener> listener) {
    return sqlpool::pool_config{.database = path,
                                .min_connections = 1,
                                .max_connections = 1,
                                .background_maintenance = false,
                                .listener = std::move(listener)};
}

} // namespace

BOOST_AUTO_TEST_CASE(every_event_is_told) {
    sqlpool_test::scratch_dir dir{"events"};
    auto events = std::make_shared<recorder>();
    {
        auto config = config_for(dir.file("e.db"), events);
        config.busy_timeout = 0ms;
        config.transaction_timeout = 100ms;
        sqlpool::basic_pool<sqlpool::locking::std_mutex, sqlpool::health::no_check, sqlpool::recycling::never>
            pool{config};
        {
            auto a = pool.acquire();
            a->exec("CREATE TABLE t(v)");
            BOOST_TEST(!pool.try_acquire(1ms).has_value()); // timeout
        }
        sqlpool::connection blocker{sqlpool::open_options{.path = dir.file("e.db")}};
        blocker.exec("BEGIN IMMEDIATE");
        BOOST_CHECK_THROW(pool.write([](sqlpool::connection& c) { c.exec("INSERT INTO t VALUES(1)"); }),
                          sqlpool::busy_error);
        blocker.exec("ROLLBACK");
        pool.close();
    }
    const auto c = events->counts();
    BOOST_TEST(c.at("connect") >= 1);
    BOOST_TEST(c.at("acquire") >= 2);
    BOOST_TEST(c.at("release") >= 2);
    BOOST_TEST(c.at("timeout") == 1);
    BOOST_TEST(c.at("busy_retry") >= 1);
    BOOST_TEST(c.at("close") == 1);
    BOOST_TEST(c.at("retire:shutdown") >= 1);
}

BOOST_AUTO_TEST_CASE(retirement_reasons_are_told) {
    sqlpool_test::scratch_dir dir{"events"};
    auto events = std::make_shared<recorder>();
    sqlpool::basic_pool<sqlpool::locking::std_mutex, sqlpool::health::no_check,
                        sqlpool::recycling::max_uses<1>>
        pool{config_for(dir.file("r.db"), events)};
    {
        auto a = pool.acquire();
    }
    {
        auto b = pool.acquire();
    }
    BOOST_TEST(events->counts().at("retire:uses") == 2);
}

BOOST_AUTO_TEST_CASE(failed_health_checks_are_told) {
    sqlpool_test::scratch_dir dir{"events"};
    auto events = std::make_shared<recorder>();
    sqlpool::basic_pool<sqlpool::locking::std_mutex, failing> pool{config_for(dir.file("h.db"), events)};
    {
        auto a = pool.acquire();
    }
    const auto c = events->counts();
    BOOST_TEST(c.at("health_check_failed") == 1);
    BOOST_TEST(c.at("retire:unhealthy") == 1);
}

BOOST_AUTO_TEST_CASE(a_throwing_listener_does_not_break_the_pool) {
    sqlpool_test::scratch_dir dir{"events"};
    sqlpool::basic_pool<sqlpool::locking::std_mutex, sqlpool::health::no_check,
                        sqlpool::recycling::max_uses<1>>
        pool{config_for(dir.file("t.db"), std::make_shared<thrower>())};
    for (int i = 0; i < 3; ++i) {
        auto conn = pool.acquire();
        BOOST_TEST(conn->query_value<std::int64_t>("SELECT 1") == 1);
    }
    const auto s = pool.stats();
    BOOST_TEST(s.acquired == 3u);
    BOOST_TEST(s.closed.uses == 3u);
    BOOST_TEST(s.listener_errors >= 9u); // connect, acquire, release, retire for each round
    BOOST_TEST(pool.close().complete);
}

BOOST_AUTO_TEST_CASE(every_retire_reason_and_health_status_has_a_name) {
    const auto name = [](auto value) { return std::string(sqlpool::to_string(value)); };
    BOOST_TEST(sqlpool_test::every_value_named<sqlpool::retire_reason>(9, name));
    BOOST_TEST(name(sqlpool::retire_reason::shutdown) == "shutdown");
    BOOST_TEST(name(sqlpool::retire_reason::evicted) == "evicted");
    BOOST_TEST(name(sqlpool::retire_reason::resized) == "resized");
    BOOST_TEST(name(static_cast<sqlpool::retire_reason>(9)) == "?");
    BOOST_TEST(sqlpool_test::every_value_named<sqlpool::health_status>(3, name));
    BOOST_TEST(name(sqlpool::health_status::unknown) == "unknown");
}
