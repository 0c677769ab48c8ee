// The SQLite layer: constants, values, statements and connections, with no knowledge of pools.
export module sqlpool:sqlite;
export import :constants;
export import :values;
export import :statement;
export import :statement_cache;
export import :query_range;
export import :open_options;
export import :connection;
