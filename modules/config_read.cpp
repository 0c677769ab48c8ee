// pool_config::parse(), from_env() and their _with_notes forms, behind the declarations of
// config.cppm: a text's key=value pairs or the environment's variables, each read through one
// config_reader, which reads old key names as the current ones (config_aliases), hands the keys of
// a configuration built around pool_config to their owner (extra_keys: database_options') and, in
// the lenient mode, passes over unknown keys.
module;
#include "detail/gmf.hpp"
module sqlpool;

namespace sqlpool::detail {
namespace {

// Reads keys into a configuration, collecting every problem and every note.
class config_reader {
public:
    config_reader(pool_config base, config_mode mode, const extra_keys* extra)
        : config_(std::move(base)), mode_(mode), extra_(extra) {}

    // Reads key=value; `source` ("" for a text, "NAME: " for a variable) starts what is said of it;
    // `prefix` is the environment's (what a deprecation note tells to set instead), "" for a text.
    void read(std::string_view key, std::string_view value, const std::string& source,
              std::string_view prefix = {}) {
        const auto* const alias = std::ranges::find(config_aliases, key, &config_alias::old_key);
        if (alias != config_aliases.end()) {
            std::string instead;
            if (!prefix.empty()) {
                std::string variable(alias->key);
                std::ranges::transform(variable, variable.begin(), [](char c) {
                    return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c;
                });
                instead = "; set " + std::string(prefix) + variable + " instead";
            }
            notes_.push_back(source + "'" + std::string(key) + "' is deprecated, an old name of '" +
                             std::string(alias->key) + "' (" + std::string(alias->origin) + ")" + instead);
            key = alias->key;
        }
        if (read_extra(key, value, source)) return;
        if (!known_key(key)) {
            unknown(key, source);
            return;
        }
        if (auto problem = set_field(config_, key, value)) problems_.push_back(source + std::move(*problem));
    }

    void problem(std::string text) { problems_.push_back(std::move(text)); }

    // The configuration, validated, and the notes; or config_error with every problem.
    parsed_config finish() && {
        if (unknown_keys_)
            problems_.push_back("valid keys: " + valid_keys() +
                                (extra_ != nullptr ? ", " + extra_->names : ""));
        if (!problems_.empty()) throw config_error(std::move(problems_));
        config_.check();
        return {.config = std::move(config_), .notes = std::move(notes_)};
    }

    [[nodiscard]] const extra_keys* extra() const { return extra_; }

private:
    bool read_extra(std::string_view key, std::string_view value, const std::string& source) {
        std::vector<std::string> problems;
        if (extra_ == nullptr || !extra_->read(key, value, problems)) return false;
        for (auto& problem : problems) problems_.push_back(source + std::move(problem));
        return true;
    }

    void unknown(std::string_view key, const std::string& source) {
        if (mode_ == config_mode::lenient) {
            notes_.push_back(source + "unknown key '" + std::string(key) + "' ignored");
            return;
        }
        problems_.push_back(source + "unknown key '" + std::string(key) + "'");
        unknown_keys_ = true;
    }

    pool_config config_;
    config_mode mode_;
    const extra_keys* extra_;
    std::vector<std::string> problems_;
    std::vector<std::string> notes_;
    bool unknown_keys_ = false;
};

bool is_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

// The value that starts at `at`, in double quotes or up to the next space; moves `at` past it.
// std::nullopt: a quote that does not close.
std::optional<std::string> value_at(std::string_view text, std::size_t& at) {
    if (at < text.size() && text[at] == '"') {
        const auto close = text.find('"', at + 1);
        if (close == std::string_view::npos) return std::nullopt;
        std::string value(text.substr(at + 1, close - at - 1));
        at = close + 1;
        return value;
    }
    const std::size_t start = at;
    while (at < text.size() && !is_space(text[at])) ++at;
    return std::string(text.substr(start, at - start));
}

void read_text(std::string_view text, config_reader& reader) {
    std::size_t at = 0;
    while (true) {
        while (at < text.size() && is_space(text[at])) ++at;
        if (at >= text.size()) return;
        const std::size_t key_start = at;
        while (at < text.size() && text[at] != '=' && !is_space(text[at])) ++at;
        const std::string_view key = text.substr(key_start, at - key_start);
        if (at >= text.size() || text[at] != '=') {
            reader.problem("'" + std::string(key) + "' has no value (write key=value)");
            continue;
        }
        ++at; // '='
        const auto value = value_at(text, at);
        if (!value) {
            reader.problem(std::string(key) + ": the quoted value has no closing '\"'");
            return;
        }
        reader.read(key, *value, "");
    }
}

// The key a variable's name gives, in lower case: PREFIX_PRAGMA_NAME is pragma.name (and so for the
// extra keys' families: PREFIX_TABLE_NAME is table.name), PREFIX_KEY is key.
std::string env_key(std::string_view name, std::string_view prefix, const extra_keys* extra) {
    std::string key(name.substr(prefix.size()));
    std::ranges::transform(key, key.begin(), [](char c) {
        return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    });
    std::vector<std::string> families{"pragma"};
    if (extra != nullptr) families.insert(families.end(), extra->families.begin(), extra->families.end());
    for (const auto& family : families)
        if (key.size() > family.size() && key.starts_with(family) && key[family.size()] == '_') {
            key[family.size()] = '.';
            break;
        }
    return key;
}

void read_env(std::string_view prefix, config_reader& reader) {
    if (prefix.find('=') != std::string_view::npos)
        throw config_error({"from_env: the prefix '" + std::string(prefix) +
                            "' contains '=', which no environment variable name can"});
    for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
        const std::string_view variable(*entry);
        const auto eq = variable.find('=');
        if (eq == std::string_view::npos || !variable.substr(0, eq).starts_with(prefix)) continue;
        const std::string name(variable.substr(0, eq));
        const std::string key = env_key(name, prefix, reader.extra());
        reader.read(key, variable.substr(eq + 1), name + ": ", prefix);
    }
}

} // namespace

parsed_config read_text_config(std::string_view text, config_mode mode, pool_config base,
                               const extra_keys* extra) {
    config_reader reader(std::move(base), mode, extra);
    read_text(text, reader);
    return std::move(reader).finish();
}

parsed_config read_env_config(std::string_view prefix, config_mode mode, pool_config base,
                              const extra_keys* extra) {
    config_reader reader(std::move(base), mode, extra);
    read_env(prefix, reader);
    return std::move(reader).finish();
}

} // namespace sqlpool::detail

namespace sqlpool {

pool_config pool_config::parse(std::string_view text) {
    return parse_with_notes(text, config_mode::strict).config;
}
pool_config pool_config::parse(std::string_view text, pool_config base) {
    return parse_with_notes(text, config_mode::strict, std::move(base)).config;
}
pool_config pool_config::from_env(std::string_view prefix) {
    return from_env_with_notes(prefix, config_mode::strict).config;
}
pool_config pool_config::from_env(std::string_view prefix, pool_config base) {
    return from_env_with_notes(prefix, config_mode::strict, std::move(base)).config;
}

parsed_config pool_config::parse_with_notes(std::string_view text, config_mode mode) {
    return parse_with_notes(text, mode, pool_config{});
}
parsed_config pool_config::parse_with_notes(std::string_view text, config_mode mode, pool_config base) {
    return detail::read_text_config(text, mode, std::move(base), nullptr);
}
parsed_config pool_config::from_env_with_notes(std::string_view prefix, config_mode mode) {
    return from_env_with_notes(prefix, mode, pool_config{});
}
parsed_config pool_config::from_env_with_notes(std::string_view prefix, config_mode mode, pool_config base) {
    return detail::read_env_config(prefix, mode, std::move(base), nullptr);
}

} // namespace sqlpool
