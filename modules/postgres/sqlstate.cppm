// sqlstate: PostgreSQL's five-character error codes
// (https://www.postgresql.org/docs/15/errcodes-appendix.html) as the int codes of the pool core, what each
// calls for, and the sqlpool exception each becomes.
module;
#include "gmf.hpp"
export module sqlpool.postgres:sqlstate;
import sqlpool;

export namespace sqlpool::postgres {

// A SQLSTATE as an int: its five characters, each of 0-9A-Z, as a base-36 number (below 36^5, so
// it fits), so that "00000" (success) is 0 and session::broken_code() can carry any SQLSTATE.
// Anything else is 0.
[[nodiscard]] constexpr int sqlstate_code(std::string_view state) noexcept {
    if (state.size() != 5) return 0;
    int code = 0;
    for (const char c : state) {
        int digit = 0;
        if (c >= '0' && c <= '9') {
            digit = c - '0';
        } else if (c >= 'A' && c <= 'Z') {
            digit = c - 'A' + 10;
        } else {
            return 0;
        }
        code = code * 36 + digit;
    }
    return code;
}

// The SQLSTATE an int from sqlstate_code() stands for.
[[nodiscard]] constexpr std::string sqlstate_text(int code) {
    std::string state(5, '0');
    for (std::size_t i = 5; i-- > 0 && code > 0; code /= 36) {
        const int digit = code % 36;
        state[i] = static_cast<char>(digit < 10 ? '0' + digit : 'A' + digit - 10);
    }
    return state;
}

// What libpq's own failures (no answer from the server) are reported as: connection_failure.
inline constexpr std::string_view lost_connection_state = "08006";

// Serialization failures and deadlocks run again; a broken connection (class 08) or a server that
// ends it (57P01 admin_shutdown, also pg_terminate_backend; 57P02 crash_shutdown; 57P03
// cannot_connect_now) retires the session; everything else fails the call.
[[nodiscard]] constexpr error_action classify_sqlstate(std::string_view state) noexcept {
    if (state == "40001" || state == "40P01") return error_action::retry;
    if (state.starts_with("08") || state == "57P01" || state == "57P02" || state == "57P03")
        return error_action::retire;
    return error_action::fail;
}

// The exception for a server error: serialization_error, connection_lost_error or server_error.
[[noreturn]] inline void throw_server_error(std::string state, std::string message, std::string sql) {
    switch (classify_sqlstate(state)) {
    case error_action::retry:
        throw serialization_error(std::move(state), std::move(message), std::move(sql));
    case error_action::retire:
    case error_action::reconnect_all:
        throw connection_lost_error(std::move(state), std::move(message), std::move(sql));
    case error_action::fail:
        break;
    }
    throw server_error(std::move(state), std::move(message), std::move(sql));
}

} // namespace sqlpool::postgres
