// database_options: what the database service is started with (the pool, the schema, whether the
// file may be created), and all of it from text or the environment: the pool's keys as
// pool_config::parse() reads them, create_if_missing, a directory of migration files and the
// declared tables.
module;
#include "detail/gmf.hpp"
export module sqlpool:service_options;
import :errors;
import :config;

export namespace sqlpool {

// One step of the schema: applied once, in version order, in its own IMMEDIATE transaction. The
// version lives in PRAGMA user_version.
struct migration {
    int version = 0;
    std::string description;
    std::string sql;
};

// A table the schema must have after migrating, with (at least) these columns.
struct table_spec {
    std::string name;
    std::vector<std::string> columns;
};

struct schema {
    std::vector<migration> migrations;
    std::vector<table_spec> tables;
};

struct parsed_options;

// The text form (parse()) is pool_config's, key=value pairs separated by whitespace, with three
// more keys:
//   create_if_missing=true|false   (also on/off, 1/0)
//   migrations=DIR                 the migrations of migrations_from_directory(DIR), replacing
//                                  those of `base`; given at most once
//   table.NAME=COLUMN,COLUMN,...   a table the schema must have, with at least these columns
//                                  (none: the table only); replaces a table of that name in
//                                  `base`; declared at most once; names compared as SQLite does
//                                  (ASCII case folded)
// From the environment: PREFIX_CREATE_IF_MISSING, PREFIX_MIGRATIONS, PREFIX_TABLE_NAME (the name
// in lower case, as every key read from the environment).
struct database_options {
    pool_config pool;
    sqlpool::schema schema;
    bool create_if_missing = true; // create the database file when it does not exist

    // As pool_config::parse(): every problem in one config_error (the valid keys listed for an
    // unknown one), then the pool's validate().
    [[nodiscard]] static database_options parse(std::string_view text);
    [[nodiscard]] static database_options parse(std::string_view text, database_options base);

    // As pool_config::from_env(): PREFIX + the key in upper case; any other variable with the
    // prefix is an unknown key.
    [[nodiscard]] static database_options from_env(std::string_view prefix = "SQLPOOL_");
    [[nodiscard]] static database_options from_env(std::string_view prefix, database_options base);

    // parse() and from_env() in a config_mode, with pool_config's notes (old key names read; when
    // lenient, unknown keys ignored).
    [[nodiscard]] static parsed_options parse_with_notes(std::string_view text, config_mode mode);
    [[nodiscard]] static parsed_options parse_with_notes(std::string_view text, config_mode mode,
                                                         database_options base);
    [[nodiscard]] static parsed_options from_env_with_notes(std::string_view prefix, config_mode mode);
    [[nodiscard]] static parsed_options from_env_with_notes(std::string_view prefix, config_mode mode,
                                                            database_options base);
};

// What database_options::parse_with_notes() and from_env_with_notes() read: the options, their
// pool validated, and the notes, each a sentence naming its key (or variable).
struct parsed_options {
    database_options options;
    std::vector<std::string> notes;
};

// The migrations of a directory of files NNNN_description.sql, ordered by number: version NNNN
// (decimal, from 1; leading zeros are only for sorting in a listing), the description from the
// name with '_' read as a space ("0002_add_email.sql": 2, "add email"), the file's text as the
// sql. The numbers must run 1..N without a gap or a repeat. A file whose extension is .sql in any
// case and whose name does not match is an error; files with another extension (README.md,
// 0003_x.sql.bak) and hidden ones (.gitkeep, ._0001_x.sql) are ignored, as are subdirectories.
// config_error lists every problem at once: a directory that is missing, unreadable or without
// migration files, each misnamed or unreadable file, each repeated number with its files, the
// missing numbers.
[[nodiscard]] std::vector<migration> migrations_from_directory(const std::filesystem::path& directory);

} // namespace sqlpool
