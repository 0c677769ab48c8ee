// What the PostgreSQL tests share: the throw-away servers the ctest fixture started
// (tests/postgres/pg-cluster, see tests/CMakeLists.txt), found through the environment the
// fixture's tests get, and a way to restart or stop them.
#pragma once

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>

namespace pg_test {

inline std::string required_env(const char* name) {
    const char* value = std::getenv(name);
    if (value == nullptr || *value == '\0')
        throw std::runtime_error(
            std::string(name) +
            " is not set: run the PostgreSQL tests through ctest, whose pg_cluster fixture "
            "starts a primary and a standby (scripts/bootstrap installs PostgreSQL)");
    return value;
}

inline std::string state_file(const std::string& name) {
    const std::string path = required_env("SQLPOOL_PG_STATE") + "/" + name;
    std::ifstream in(path);
    std::string line;
    if (!in || !std::getline(in, line))
        throw std::runtime_error("cannot read " + path + ": did the pg_cluster fixture start the servers?");
    return line;
}

// No TLS and no GSS negotiation on loopback: each would add a round trip to every connect.
inline std::string conninfo(const std::string& server) {
    return state_file(server + ".conninfo") + " sslmode=disable gssencmode=disable";
}
inline std::string primary() {
    return conninfo("primary");
}
inline std::string standby() {
    return conninfo("standby");
}

// Runs `pg-cluster VERB STATE ARGS` (restart, stop-server, start-server, psql); throws when it fails.
inline void cluster(const std::string& verb, const std::string& args) {
    const std::string command =
        required_env("SQLPOOL_PG_CLUSTER") + " " + verb + " " + required_env("SQLPOOL_PG_STATE") + " " + args;
    if (std::system(command.c_str()) != 0) throw std::runtime_error("failed: " + command);
}

} // namespace pg_test
