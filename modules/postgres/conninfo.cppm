// conninfo: libpq connection strings read (PQconninfoParse, which takes keyword/value strings and
// URIs alike: https://www.postgresql.org/docs/15/libpq-connect.html#LIBPQ-CONNSTRING), changed and
// written back, and shown without their password.
module;
#include "gmf.hpp"
export module sqlpool.postgres:conninfo;
import sqlpool;

export namespace sqlpool::postgres {

// The keywords a conninfo sets, in libpq's order; config_error with libpq's message when it is
// not one.
[[nodiscard]] std::vector<std::pair<std::string, std::string>> parse_conninfo(std::string_view conninfo);

// A keyword/value string of `pairs`, each value quoted.
[[nodiscard]] std::string write_conninfo(const std::vector<std::pair<std::string, std::string>>& pairs);

// `conninfo` with each of `changes` set (added, or replacing the keyword's value).
[[nodiscard]] std::string conninfo_with(std::string_view conninfo,
                                        const std::vector<std::pair<std::string, std::string>>& changes);

// `conninfo` for messages: the password left out; the text itself when it does not parse.
[[nodiscard]] std::string describe_conninfo(std::string_view conninfo);

} // namespace sqlpool::postgres
