// sqlpool.postgres: sqlpool's pool on PostgreSQL, through libpq. A separate module and library
// (sqlpool::postgres), so that SQLite-only programs neither include nor link libpq.
//   import sqlpool.postgres;   // also makes sqlpool's own names visible
module;
#include "gmf.hpp"
export module sqlpool.postgres;
export import sqlpool;
export import :sqlstate;
export import :values;
export import :result;
export import :isolation;
export import :transaction;
export import :connection;
export import :conninfo;
export import :source;
export import :pool;
export import :runner;
export import :read_write_pool;
export import :migrations;
export import :database_traits;
