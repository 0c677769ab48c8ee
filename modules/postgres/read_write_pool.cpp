// reader_conninfo (see :read_write_pool).
module;
#include "gmf.hpp"
module sqlpool.postgres;
import sqlpool;

namespace sqlpool::postgres {

namespace {

std::string value_of(const std::vector<std::pair<std::string, std::string>>& pairs, std::string_view key) {
    const auto found = std::ranges::find(pairs, key, &std::pair<std::string, std::string>::first);
    return found != pairs.end() ? found->second : std::string();
}

} // namespace

std::string reader_conninfo(std::string_view standbys, std::string_view primary, reader_fallback fallback) {
    if (fallback == reader_fallback::none)
        return conninfo_with(standbys, {{"target_session_attrs", "standby"}});
    const auto reader = parse_conninfo(standbys);
    const auto writer = parse_conninfo(primary);
    const std::string hosts = value_of(reader, "host");
    const std::string ports = value_of(reader, "port");
    const std::string primary_host = value_of(writer, "host");
    const std::string primary_port = value_of(writer, "port");
    if (hosts.empty() || ports.empty() || primary_host.empty() || primary_port.empty())
        throw config_error(
            {"a reader falling back to the primary needs host and port in both conninfos (reader: '" +
             describe_conninfo(standbys) + "', primary: '" + describe_conninfo(primary) + "')"});
    return conninfo_with(standbys, {{"host", hosts + "," + primary_host},
                                    {"port", ports + "," + primary_port},
                                    {"target_session_attrs", "prefer-standby"}});
}

} // namespace sqlpool::postgres
