// Model-based test of basic_pool on SQLite (tests/support/pool_model.cppm: random sequences of
// acquire, release, clock steps, health failures, maintenance and close against a model, invariants
// after every command); pg_pool_model_test runs the same model on PostgreSQL.
#define BOOST_TEST_MODULE pool_model
#include <boost/test/unit_test.hpp>

#include <rapidcheck.h>
#include <rapidcheck/boost_test.h>
#include <rapidcheck/state.h>

#include <string>

import sqlpool;
import sqlpool_test.pool_model;

namespace {

struct sqlite_backend {
    using source = sqlpool::sqlite_source;
    using isolation = sqlpool::isolation::deferred;
    static std::string database() { return ":memory:"; }
    // No transaction open and no statement left running.
    static bool clean(const sqlpool::connection& conn) {
        return !conn.in_transaction() && conn.busy_statement_count() == 0U;
    }
};

} // namespace

RC_BOOST_PROP(pool_behaves_like_its_model, ()) {
    sqlpool_test::pool_model::check<sqlite_backend>();
}
