// pool: sqlpool's policy-built pool over PostgreSQL sessions (see sqlpool's basic_pool for the
// policies); only the session source and the isolation policies differ from a SQLite pool.
module;
#include "gmf.hpp"
export module sqlpool.postgres:pool;
import sqlpool;
import :source;
import :isolation;

export namespace sqlpool::postgres {

template <locking_policy Locking = locking::std_mutex, class Health = health::ping,
          recycling_policy Recycling = recycling::standard, class Isolation = isolation::read_committed,
          queue_policy Queue = queue::barging, pool_clock Clock = coarse_steady_clock, class Source = source>
using basic_pool = sqlpool::basic_pool<Locking, Health, Recycling, Isolation, Queue, Clock, Source>;

using pool = basic_pool<>;

} // namespace sqlpool::postgres
