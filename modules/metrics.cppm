// pool_stats rendered for operators: Prometheus text exposition format and JSON.
module;
#include "detail/gmf.hpp"
export module sqlpool:metrics;
import :stats;

namespace sqlpool::detail {

inline std::string escape_label(std::string_view text) {
    std::string out;
    for (char c : text) {
        if (c == '\\' || c == '"') out += '\\';
        if (c == '\n') {
            out += "\\n";
            continue;
        }
        out += c;
    }
    return out;
}

inline std::string escape_json(std::string_view text) {
    std::string out;
    for (char c : text) {
        switch (c) {
        case '"':
            out += "\\\"";
            break;
        case '\\':
            out += "\\\\";
            break;
        case '\n':
            out += "\\n";
            break;
        case '\t':
            out += "\\t";
            break;
        case '\r':
            out += "\\r";
            break;
        default:
            if (static_cast<unsigned char>(c) < 0x20) {
                std::array<char, 8> code{};
                std::snprintf(code.data(), code.size(), "\\u%04x", static_cast<unsigned>(c));
                out += code.data();
            } else {
                out += c;
            }
        }
    }
    return out;
}

inline std::string seconds(std::chrono::nanoseconds value) {
    std::array<char, 32> text{};
    std::snprintf(text.data(), text.size(), "%.9g", std::chrono::duration<double>(value).count());
    return text.data();
}

template <std::integral T>
std::string metric_value(T value) {
    return std::to_string(value);
}
inline std::string metric_value(std::chrono::nanoseconds value) {
    return seconds(value);
}

template <std::integral T>
std::string json_value(T value) {
    return std::to_string(value);
}
inline std::string json_value(std::chrono::nanoseconds value) {
    return std::to_string(value.count());
}

struct metric_row {
    const char* name;
    const char* type; // gauge or counter
    const char* help;
    std::string value;
    std::string extra_label; // e.g. reason="aged", or empty
};

inline std::vector<metric_row> metric_rows(const pool_stats& stats) {
    std::vector<metric_row> rows;
    for_each_stat(
        [&rows](const stat_field& field, const auto& value) {
            rows.push_back({field.metric, field.kind == stat_kind::counter ? "counter" : "gauge", field.help,
                            metric_value(value),
                            *field.label != '\0' ? std::string(field.label) + "=\"" + field.label_value + "\""
                                                 : std::string()});
        },
        stats);
    return rows;
}

} // namespace sqlpool::detail

export namespace sqlpool {

// Prometheus text exposition format (version 0.0.4), every series labelled pool="<pool_name>".
[[nodiscard]] inline std::string to_prometheus(const pool_stats& stats,
                                               std::string_view pool_name = "default") {
    std::string out;
    const std::string pool_label = "pool=\"" + detail::escape_label(pool_name) + "\"";
    std::string_view previous;
    for (const auto& row : detail::metric_rows(stats)) {
        if (previous != row.name) {
            out += std::string("# HELP ") + row.name + " " + row.help + "\n";
            out += std::string("# TYPE ") + row.name + " " + row.type + "\n";
            previous = row.name;
        }
        out += std::string(row.name) + "{" + pool_label + (row.extra_label.empty() ? "" : ",") +
               row.extra_label + "} " + row.value + "\n";
    }
    return out;
}

// One JSON object with every figure; durations in nanoseconds.
[[nodiscard]] inline std::string to_json(const pool_stats& stats, std::string_view pool_name = "default") {
    std::string out = R"({"pool":")" + detail::escape_json(pool_name) + '"';
    std::string_view group; // the nested object being written ("closed"), or none
    bool first_in_group = false;
    detail::for_each_stat(
        [&](const detail::stat_field& field, const auto& value) {
            if (group != field.group) {
                if (!group.empty()) out += '}';
                group = field.group;
                if (!group.empty()) out += ",\"" + std::string(group) + "\":{";
                first_in_group = !group.empty();
            }
            out +=
                (first_in_group ? "\"" : ",\"") + std::string(field.key) + "\":" + detail::json_value(value);
            first_in_group = false;
        },
        stats);
    if (!group.empty()) out += '}';
    return out + "}";
}

} // namespace sqlpool
