// open_options: the rules for paths, pragmas and limits, shared by connection and pool_config.
module;
#include "../detail/gmf.hpp"
module sqlpool;

namespace sqlpool {

namespace {

bool is_identifier(std::string_view text) {
    return !text.empty() && std::ranges::all_of(text, [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
    });
}

bool is_pragma_value(std::string_view text) {
    return !text.empty() && std::ranges::all_of(text, [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
               c == '-' || c == '.';
    });
}

} // namespace

namespace detail {

int limit_id(limit which) {
    switch (which) {
    case limit::length:
        return SQLITE_LIMIT_LENGTH;
    case limit::sql_length:
        return SQLITE_LIMIT_SQL_LENGTH;
    case limit::column:
        return SQLITE_LIMIT_COLUMN;
    case limit::expr_depth:
        return SQLITE_LIMIT_EXPR_DEPTH;
    case limit::compound_select:
        return SQLITE_LIMIT_COMPOUND_SELECT;
    case limit::vdbe_op:
        return SQLITE_LIMIT_VDBE_OP;
    case limit::function_arg:
        return SQLITE_LIMIT_FUNCTION_ARG;
    case limit::attached:
        return SQLITE_LIMIT_ATTACHED;
    case limit::like_pattern_length:
        return SQLITE_LIMIT_LIKE_PATTERN_LENGTH;
    case limit::variable_number:
        return SQLITE_LIMIT_VARIABLE_NUMBER;
    case limit::trigger_depth:
        return SQLITE_LIMIT_TRIGGER_DEPTH;
    case limit::worker_threads:
        return SQLITE_LIMIT_WORKER_THREADS;
    }
    return SQLITE_LIMIT_LENGTH;
}

std::optional<std::string> pragma_problem(std::string_view name, std::string_view value) {
    if (is_identifier(name) && is_pragma_value(value)) return std::nullopt;
    return std::string("pragma '")
        .append(name)
        .append("=")
        .append(value)
        .append("' is not a plain name=value (letters, digits, '_', '-', '.')");
}

} // namespace detail

std::optional<std::string_view> uri_parameter(std::string_view path, std::string_view key) noexcept {
    if (!path.starts_with("file:")) return std::nullopt;
    const auto query_at = path.find('?');
    if (query_at == std::string_view::npos) return std::nullopt;
    std::string_view query = path.substr(query_at + 1);
    query = query.substr(0, query.find('#'));
    while (!query.empty()) {
        const auto end = query.find('&');
        const std::string_view pair = query.substr(0, end);
        const auto equals = pair.find('=');
        if (pair.substr(0, equals) == key)
            return equals == std::string_view::npos ? std::string_view{} : pair.substr(equals + 1);
        if (end == std::string_view::npos) break;
        query.remove_prefix(end + 1);
    }
    return std::nullopt;
}

bool is_memory_path(std::string_view path) noexcept {
    if (path == ":memory:") return true;
    if (!path.starts_with("file:")) return false;
    const std::string_view file = path.substr(5, path.find_first_of("?#") - 5);
    return file == ":memory:" || uri_parameter(path, "mode") == "memory" ||
           uri_parameter(path, "vfs") == "memdb";
}

} // namespace sqlpool
