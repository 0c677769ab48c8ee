// database_options::parse(), from_env() and their _with_notes forms, behind the declarations of
// service_options.cppm: pool_config's reader reads the text or the environment, and hands the keys
// of database_options' own (options_reader's table) to an options_reader.
module;
#include "detail/gmf.hpp"
module sqlpool;

namespace sqlpool::detail {
namespace {

bool same_name(std::string_view a, std::string_view b) {
    const auto fold = [](char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; };
    return a.size() == b.size() && std::ranges::equal(a, b, {}, fold, fold);
}

std::string_view trimmed(std::string_view text) {
    const auto first = text.find_first_not_of(" \t\r\n");
    if (first == std::string_view::npos) return {};
    return text.substr(first, text.find_last_not_of(" \t\r\n") - first + 1);
}

// The columns of table.NAME=COLUMN,...: none for an empty value, each trimmed of spaces.
std::vector<std::string> read_columns(std::string_view key, std::string_view value,
                                      std::vector<std::string>& problems) {
    std::vector<std::string> columns;
    if (trimmed(value).empty()) return columns;
    for (const auto part : std::views::split(value, ',')) {
        const auto column = trimmed(std::string_view(part.begin(), part.end()));
        if (column.empty())
            problems.push_back(std::string(key) + ": an empty column name in '" + std::string(value) +
                               "' (write table.NAME=COLUMN,COLUMN,...)");
        else if (std::ranges::any_of(columns, [&](const auto& seen) { return same_name(seen, column); }))
            problems.push_back(std::string(key) + ": column '" + std::string(column) + "' is listed twice");
        else
            columns.emplace_back(column);
    }
    return columns;
}

// Reads database_options' own keys into `options`, which it starts from (the base).
class options_reader {
public:
    explicit options_reader(database_options& options) : options_(&options) {}

    // For pool_config's reader: the keys, their names, the families of them.
    extra_keys keys() {
        extra_keys extra;
        for (const auto& known : table) {
            extra.names +=
                (extra.names.empty() ? "" : ", ") + std::string(known.key) + (known.family ? ".NAME" : "");
            if (known.family) extra.families.emplace_back(known.key);
        }
        extra.read = [this](std::string_view key, std::string_view value,
                            std::vector<std::string>& problems) { return read(key, value, problems); };
        return extra;
    }

private:
    using read_key = void (options_reader::*)(std::string_view key, std::string_view value,
                                              std::vector<std::string>& problems);
    struct key_entry {
        std::string_view key; // a family's name: key.NAME
        bool family;
        read_key read;
    };
    static const std::array<key_entry, 3> table;

    bool read(std::string_view key, std::string_view value, std::vector<std::string>& problems) {
        for (const auto& known : table) {
            const bool match = known.family ? key.starts_with(known.key) && key.size() > known.key.size() &&
                                                  key[known.key.size()] == '.'
                                            : key == known.key;
            if (match) {
                (this->*known.read)(key, value, problems);
                return true;
            }
        }
        return false;
    }

    void read_create_if_missing(std::string_view key, std::string_view value,
                                std::vector<std::string>& problems) {
        if (auto problem = read_bool(options_->create_if_missing, key, value)) problems.push_back(*problem);
    }

    void read_migrations(std::string_view key, std::string_view value, std::vector<std::string>& problems) {
        if (migrations_read_) {
            problems.push_back(std::string(key) + ": given twice; one directory holds every migration");
            return;
        }
        migrations_read_ = true;
        if (value.empty()) {
            problems.push_back(std::string(key) + ": needs a directory (migrations=DIR)");
            return;
        }
        try {
            options_->schema.migrations = migrations_from_directory(std::filesystem::path(value));
        } catch (const config_error& e) {
            problems.insert(problems.end(), e.problems().begin(), e.problems().end());
        }
    }

    void read_table(std::string_view key, std::string_view value, std::vector<std::string>& problems) {
        const auto name = key.substr(key.find('.') + 1);
        if (name.empty()) {
            problems.push_back(std::string(key) + ": the table needs a name (table.NAME=COLUMN,COLUMN,...)");
            return;
        }
        if (std::ranges::any_of(tables_read_, [&](const auto& seen) { return same_name(seen, name); })) {
            problems.push_back(std::string(key) + ": the table is declared twice");
            return;
        }
        tables_read_.emplace_back(name);
        auto columns = read_columns(key, value, problems);
        std::erase_if(options_->schema.tables, [&](const table_spec& t) { return same_name(t.name, name); });
        options_->schema.tables.push_back({.name = std::string(name), .columns = std::move(columns)});
    }

    database_options* options_; // the caller's, filled in as keys are read
    std::vector<std::string> tables_read_;
    bool migrations_read_ = false;
};

// Every key of database_options' own: the one list of them.
const std::array<options_reader::key_entry, 3> options_reader::table{{
    {"create_if_missing", false, &options_reader::read_create_if_missing},
    {"migrations", false, &options_reader::read_migrations},
    {"table", true, &options_reader::read_table},
}};

// read_text_config or read_env_config: the text or the prefix, the mode, the base, the extra keys.
using pool_reader = parsed_config (*)(std::string_view, config_mode, pool_config, const extra_keys*);

// Reads `base` over from `source` (a text or a prefix): its pool through `read_pool` with
// database_options' keys, which go to an options_reader.
parsed_options read_options(database_options base, pool_reader read_pool, std::string_view source,
                            config_mode mode) {
    options_reader reader(base);
    const auto keys = reader.keys();
    parsed_config pool = read_pool(source, mode, base.pool, &keys);
    base.pool = std::move(pool.config);
    return {.options = std::move(base), .notes = std::move(pool.notes)};
}

} // namespace
} // namespace sqlpool::detail

namespace sqlpool {

database_options database_options::parse(std::string_view text) {
    return parse_with_notes(text, config_mode::strict).options;
}
database_options database_options::parse(std::string_view text, database_options base) {
    return parse_with_notes(text, config_mode::strict, std::move(base)).options;
}
database_options database_options::from_env(std::string_view prefix) {
    return from_env_with_notes(prefix, config_mode::strict).options;
}
database_options database_options::from_env(std::string_view prefix, database_options base) {
    return from_env_with_notes(prefix, config_mode::strict, std::move(base)).options;
}

parsed_options database_options::parse_with_notes(std::string_view text, config_mode mode) {
    return parse_with_notes(text, mode, database_options{});
}
parsed_options database_options::parse_with_notes(std::string_view text, config_mode mode,
                                                  database_options base) {
    return detail::read_options(std::move(base), &detail::read_text_config, text, mode);
}
parsed_options database_options::from_env_with_notes(std::string_view prefix, config_mode mode) {
    return from_env_with_notes(prefix, mode, database_options{});
}
parsed_options database_options::from_env_with_notes(std::string_view prefix, config_mode mode,
                                                     database_options base) {
    return detail::read_options(std::move(base), &detail::read_env_config, prefix, mode);
}

} // namespace sqlpool
