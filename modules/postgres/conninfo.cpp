// conninfo's definitions (see :conninfo).
module;
#include "gmf.hpp"
module sqlpool.postgres;
import sqlpool;

namespace sqlpool::postgres {

std::vector<std::pair<std::string, std::string>> parse_conninfo(std::string_view conninfo) {
    char* message = nullptr;
    PQconninfoOption* options = PQconninfoParse(std::string(conninfo).c_str(), &message);
    if (options == nullptr) {
        std::string why = message != nullptr ? message : "out of memory";
        PQfreemem(message);
        while (!why.empty() && why.back() == '\n') why.pop_back();
        throw config_error({"conninfo '" + describe_conninfo(conninfo) + "' is not valid: " + why});
    }
    std::vector<std::pair<std::string, std::string>> pairs;
    for (const PQconninfoOption* o = options; o->keyword != nullptr; ++o)
        if (o->val != nullptr) pairs.emplace_back(o->keyword, o->val);
    PQconninfoFree(options);
    return pairs;
}

std::string write_conninfo(const std::vector<std::pair<std::string, std::string>>& pairs) {
    std::string text;
    for (const auto& [key, value] : pairs) {
        if (!text.empty()) text += ' ';
        text += key + "='";
        for (const char c : value) {
            if (c == '\'' || c == '\\') text += '\\';
            text += c;
        }
        text += '\'';
    }
    return text;
}

std::string conninfo_with(std::string_view conninfo,
                          const std::vector<std::pair<std::string, std::string>>& changes) {
    auto pairs = parse_conninfo(conninfo);
    for (const auto& change : changes) {
        const auto same = std::ranges::find(pairs, change.first, &std::pair<std::string, std::string>::first);
        if (same != pairs.end()) {
            same->second = change.second;
        } else {
            pairs.push_back(change);
        }
    }
    return write_conninfo(pairs);
}

std::string describe_conninfo(std::string_view conninfo) {
    PQconninfoOption* options = PQconninfoParse(std::string(conninfo).c_str(), nullptr);
    if (options == nullptr) return "(a conninfo libpq cannot read)";
    std::vector<std::pair<std::string, std::string>> pairs;
    for (const PQconninfoOption* o = options; o->keyword != nullptr; ++o)
        if (o->val != nullptr && std::string_view(o->keyword) != "password")
            pairs.emplace_back(o->keyword, o->val);
    PQconninfoFree(options);
    return write_conninfo(pairs);
}

} // namespace sqlpool::postgres
