// The one public entry point: `import sqlpool;`.
export module sqlpool;
export import :errors;
export import :deadline;
export import :names; // no exported names: every interface partition must be reachable
export import :session_board;
export import :session;
export import :sqlite;
export import :events;
export import :config;
export import :config_text;
export import :connection_info;
export import :stats;
export import :stat_counters; // no exported names: every interface partition must be reachable
export import :metrics;
export import :lease;
export import :fork_guard;  // no exported names: every interface partition must be reachable
export import :reader_gate; // no exported names: every interface partition must be reachable
export import :checkpointer;
export import :sqlite_source;
export import :backup;
export import :locking;
export import :queue;
export import :health;
export import :recycling;
export import :isolation;
export import :transaction;
export import :pool;
export import :read_write_pool;
export import :database_traits;
export import :manager;
export import :component;
export import :host;
export import :service_gate;
export import :service_health;
export import :service_options;
export import :service;
