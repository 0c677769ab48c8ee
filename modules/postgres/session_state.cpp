// changes_session (see :connection): which statements may leave session state behind (what
// DISCARD ALL undoes, https://www.postgresql.org/docs/15/sql-discard.html), read off their text.
module;
#include "gmf.hpp"
module sqlpool.postgres;
import sqlpool;

namespace sqlpool::postgres {

namespace {

std::string lowered(std::string_view sql) {
    std::string text(sql);
    for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return text;
}

// The first keyword, past blanks and comments; "" when the text starts otherwise.
std::string_view first_word(std::string_view text) {
    for (;;) {
        const auto start = text.find_first_not_of(" \t\r\n");
        if (start == std::string_view::npos) return {};
        text.remove_prefix(start);
        if (text.starts_with("--")) {
            const auto end = text.find('\n');
            if (end == std::string_view::npos) return {};
            text.remove_prefix(end);
        } else if (text.starts_with("/*")) {
            const auto end = text.find("*/");
            if (end == std::string_view::npos) return {};
            text.remove_prefix(end + 2);
        } else {
            break;
        }
    }
    const auto end = text.find_first_not_of("abcdefghijklmnopqrstuvwxyz_");
    return text.substr(0, end);
}

constexpr std::array<std::string_view, 15> plain_words{"select",    "insert",  "update", "delete", "with",
                                                       "values",    "table",   "begin",  "commit", "rollback",
                                                       "savepoint", "release", "start",  "abort",  "end"};

// Every statement of the text (split at ';', a ';' in a literal splits too: that only errs on the
// side of a DISCARD ALL) starts with a plain word. Returns the first word of the first statement.
bool all_plain(std::string_view text, std::string_view& first) {
    bool at_first = true;
    for (std::size_t start = 0; start <= text.size();) {
        const auto end = std::min(text.find(';', start), text.size());
        const std::string_view piece = text.substr(start, end - start);
        start = end + 1;
        if (piece.find_first_not_of(" \t\r\n") == std::string_view::npos) continue;
        const std::string_view word = first_word(piece);
        if (std::ranges::find(plain_words, word) == plain_words.end()) return false;
        if (std::exchange(at_first, false)) first = word;
    }
    return true;
}

} // namespace

bool changes_session(std::string_view sql) {
    const std::string text = lowered(sql);
    if (text.find_first_not_of(" \t\r\n;") == std::string::npos) return false; // nothing runs
    std::string_view word;
    if (!all_plain(text, word)) return true;
    static constexpr std::array<std::string_view, 8> hints{"temp",   "set_config", "advisory", "prepare",
                                                           "listen", "declare",    "dblink",   "lo_"};
    if (std::ranges::any_of(hints,
                            [&](std::string_view hint) { return text.find(hint) != std::string::npos; }))
        return true;
    return (word == "select" || word == "with") && text.find("into") != std::string::npos;
}

} // namespace sqlpool::postgres
