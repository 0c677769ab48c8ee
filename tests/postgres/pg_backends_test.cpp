// The guarantees a pool gives whatever its database, as one typed test over both backends: the
// SQLite pool on a file and the PostgreSQL pool on the fixture's primary, through their public
// runners and leases, with real threads.
#define BOOST_TEST_MODULE pg_backends
#include <boost/mpl/list.hpp>
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <future>
#include <stdexcept>
#include <string>
#include <thread>
#include <unistd.h>
#include <vector>

#include "pg_support.hpp"

import sqlpool.postgres;

namespace pg = sqlpool::postgres;
using namespace std::chrono_literals;

namespace {

struct sqlite_backend {
    using pool_type = sqlpool::pool;
    using connection_type = sqlpool::connection;
    static std::string database() {
        static const std::string path = (std::filesystem::temp_directory_path() /
                                         ("sqlpool-backends-" + std::to_string(::getpid()) + ".db"))
                                            .string();
        return path;
    }
    static std::string param(int n) { return "?" + std::to_string(n); }
    template <class F>
    static auto write(pool_type& pool, F&& fn) {
        return pool.write(std::forward<F>(fn));
    }
    template <class F>
    static auto read(pool_type& pool, F&& fn) {
        return pool.read(std::forward<F>(fn));
    }
};

struct postgres_backend {
    using pool_type = pg::pool;
    using connection_type = pg::connection;
    static std::string database() { return pg_test::primary(); }
    static std::string param(int n) { return "$" + std::to_string(n); }
    template <class F>
    static auto write(pool_type& pool, F&& fn) {
        return pg::write(pool, std::forward<F>(fn));
    }
    template <class F>
    static auto read(pool_type& pool, F&& fn) {
        return pg::read(pool, std::forward<F>(fn));
    }
};

using backends = boost::mpl::list<sqlite_backend, postgres_backend>;

// Removes the SQLite test database (and its WAL) when the tests end.
struct remove_sqlite_files {
    remove_sqlite_files(const remove_sqlite_files&) = delete;
    remove_sqlite_files& operator=(const remove_sqlite_files&) = delete;
    remove_sqlite_files() = default;
    ~remove_sqlite_files() {
        for (const char* suffix : {"", "-wal", "-shm"})
            std::filesystem::remove(sqlite_backend::database() + suffix);
    }
};
BOOST_TEST_GLOBAL_FIXTURE(remove_sqlite_files);

template <class B>
sqlpool::pool_config config(std::size_t max) {
    sqlpool::pool_config c;
    c.database = B::database();
    c.max_connections = max;
    c.acquire_timeout = 20s;
    c.transaction_timeout = 30s;
    return c;
}

// A fresh table `bt (id, v)`; returns a pool of `max` connections to its database.
template <class B>
typename B::pool_type& fresh(std::unique_ptr<typename B::pool_type>& holder, std::size_t max) {
    holder = std::make_unique<typename B::pool_type>(config<B>(max));
    B::write(*holder, [](typename B::connection_type& c) {
        c.exec("DROP TABLE IF EXISTS bt");
        c.exec("CREATE TABLE bt (id INTEGER PRIMARY KEY, v INTEGER)");
    });
    return *holder;
}

template <class B>
std::int64_t rows(typename B::pool_type& pool) {
    return B::read(pool, [](typename B::connection_type& c) {
        return c.template query_value<std::int64_t>("SELECT count(*) FROM bt");
    });
}

} // namespace

BOOST_AUTO_TEST_CASE_TEMPLATE(every_acknowledged_write_from_eight_threads_is_stored_once, B, backends) {
    std::unique_ptr<typename B::pool_type> holder;
    auto& pool = fresh<B>(holder, 4);
    const std::string insert = "INSERT INTO bt (id, v) VALUES (" + B::param(1) + ", " + B::param(2) + ")";
    std::vector<std::jthread> threads;
    for (int t = 0; t < 8; ++t)
        threads.emplace_back([&, t] {
            for (int i = 0; i < 50; ++i)
                B::write(pool, [&](typename B::connection_type& c) { c.exec(insert, t * 1000 + i, t); });
        });
    threads.clear();
    BOOST_TEST(rows<B>(pool) == 400);
}

BOOST_AUTO_TEST_CASE_TEMPLATE(a_call_that_throws_leaves_nothing_and_its_exception_unchanged, B, backends) {
    std::unique_ptr<typename B::pool_type> holder;
    auto& pool = fresh<B>(holder, 2);
    int runs = 0;
    BOOST_CHECK_THROW(B::write(pool,
                               [&](typename B::connection_type& c) {
                                   ++runs;
                                   c.exec("INSERT INTO bt (id, v) VALUES (1, 1)");
                                   throw std::logic_error("the caller's own");
                               }),
                      std::logic_error);
    BOOST_TEST(runs == 1);
    BOOST_TEST(rows<B>(pool) == 0);
}

BOOST_AUTO_TEST_CASE_TEMPLATE(a_savepoint_rolled_back_keeps_the_rest, B, backends) {
    std::unique_ptr<typename B::pool_type> holder;
    auto& pool = fresh<B>(holder, 2);
    {
        auto lease = pool.acquire();
        auto tx = lease->begin();
        lease->exec("INSERT INTO bt (id, v) VALUES (1, 1)");
        {
            auto sp = tx.savepoint();
            lease->exec("INSERT INTO bt (id, v) VALUES (2, 2)");
            sp.rollback();
        }
        BOOST_CHECK_THROW((void)lease->begin(), sqlpool::error); // one transaction per session
        tx.commit();
    }
    BOOST_TEST(rows<B>(pool) == 1);
}

BOOST_AUTO_TEST_CASE_TEMPLATE(what_a_borrower_leaves_open_never_reaches_the_next, B, backends) {
    std::unique_ptr<typename B::pool_type> holder;
    auto& pool = fresh<B>(holder, 1);
    {
        auto lease = pool.acquire();
        lease->exec("CREATE TEMP TABLE leftover (a INTEGER)"); // outside the transaction: kept by it
        lease->exec("BEGIN");
        lease->exec("INSERT INTO bt (id, v) VALUES (7, 7)");
    } // returned mid-transaction
    auto lease = pool.acquire();
    BOOST_TEST(lease->template query_value<std::int64_t>("SELECT count(*) FROM bt") == 0);
    BOOST_CHECK_THROW(lease->exec("INSERT INTO leftover VALUES (1)"), sqlpool::error);
}

BOOST_AUTO_TEST_CASE_TEMPLATE(a_full_pool_times_out_naming_the_holder, B, backends) {
    std::unique_ptr<typename B::pool_type> holder;
    auto& pool = fresh<B>(holder, 1);
    std::promise<void> leased;
    std::promise<void> done;
    std::jthread other([&] {
        auto held = pool.acquire();
        leased.set_value();
        done.get_future().wait();
    });
    leased.get_future().wait();
    try {
        (void)pool.acquire(100ms);
        BOOST_FAIL("no timeout");
    } catch (const sqlpool::timeout_error& e) {
        BOOST_TEST(!e.holders().empty());
    }
    done.set_value();
}
