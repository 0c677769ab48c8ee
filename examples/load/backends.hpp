// sqlpool-load's backends: each prepares the accounts table, runs the workload through its pools,
// checks the counters and prints the report; each returns the exit status.
#pragma once

#include "workload.hpp" // std headers, options.hpp and `import sqlpool;`, all before any import

namespace load {

// SQLite: the file o.database, with `options` (the pool, and the database service's keys, which
// run before the load).
int run_sqlite(const options& o, const sqlpool::database_options& options);

// PostgreSQL: the server of o.conninfo (with --policy split, reads on the standby of
// o.standby_conninfo), with `config`'s pool keys. Only in a build with SQLPOOL_WITH_POSTGRES.
int run_postgres(const options& o, const sqlpool::pool_config& config);

} // namespace load
