// The model-based test of basic_pool (tests/support/pool_model.cppm) on PostgreSQL, against the
// pg_cluster fixture's primary: random sequences of acquire, release (some leaving a transaction
// open), clock steps, health failures, maintenance and close against a model, invariants after
// every command, and every session handed out idle (no transaction open, nothing running).
#define BOOST_TEST_MODULE pg_pool_model
#include <boost/test/unit_test.hpp>

#include <rapidcheck.h>
#include <rapidcheck/boost_test.h>
#include <rapidcheck/state.h>

#include <libpq-fe.h>

#include <string>

#include "pg_support.hpp"

import sqlpool.postgres;
import sqlpool_test.pool_model;

namespace {

struct postgres_backend {
    using source = sqlpool::postgres::source;
    using isolation = sqlpool::postgres::isolation::read_committed;
    static std::string database() { return pg_test::primary(); }
    // PQtransactionStatus: idle, not in a transaction (https://www.postgresql.org/docs/15/libpq-status.html).
    static bool clean(const sqlpool::postgres::connection& conn) {
        return PQtransactionStatus(conn.native()) == PQTRANS_IDLE;
    }
};

} // namespace

RC_BOOST_PROP(pool_behaves_like_its_model, ()) {
    sqlpool_test::pool_model::check<postgres_backend>();
}
