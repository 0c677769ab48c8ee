// migrations_from_directory(), behind the declaration of service_options.cppm: a directory of
// NNNN_description.sql files read into migrations, every problem with it named at once.
module;
#include "detail/gmf.hpp"
module sqlpool;

namespace sqlpool::detail {
namespace {

// A file named like a migration.
struct migration_file {
    int version = 0;
    std::string description;
    std::filesystem::path path;
};

std::string quoted(const std::filesystem::path& path) {
    return "'" + path.string() + "'";
}

// A candidate: not hidden, and with the extension .sql in any case (so that 0001_init.SQL is named
// as an error, not passed over).
bool looks_like_migration(const std::filesystem::path& path) {
    const std::string name = path.filename().string();
    std::string extension = path.extension().string();
    std::ranges::transform(extension, extension.begin(), [](char c) {
        return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    });
    return !name.starts_with('.') && extension == ".sql";
}

// "0002_add_email.sql": version 2, "add email"; or a problem naming the file.
std::optional<migration_file> read_name(const std::filesystem::path& path,
                                        std::vector<std::string>& problems) {
    const std::string name = path.filename().string();
    const std::string_view stem =
        std::string_view(name).substr(0, name.ends_with(".sql") ? name.size() - 4 : 0);
    const auto digits = stem.find_first_not_of("0123456789");
    if (stem.empty() || digits == 0 || digits == std::string_view::npos || stem[digits] != '_' ||
        digits + 1 == stem.size()) {
        problems.push_back("migration file " + quoted(path) +
                           " is not named NNNN_description.sql (a number, '_', a description, .sql)");
        return std::nullopt;
    }
    int version = 0;
    const std::string number(stem.substr(0, digits));
    if (std::from_chars(number.data(), number.data() + number.size(), version).ec != std::errc{}) {
        problems.push_back("migration file " + quoted(path) + ": the number is larger than " +
                           std::to_string(std::numeric_limits<int>::max()) +
                           " (PRAGMA user_version's range)");
        return std::nullopt;
    }
    if (version == 0) {
        problems.push_back("migration file " + quoted(path) +
                           " is numbered 0; migrations are numbered from 1 (0 is a new database's version)");
        return std::nullopt;
    }
    std::string description(stem.substr(digits + 1));
    std::ranges::replace(description, '_', ' ');
    return migration_file{.version = version, .description = std::move(description), .path = path};
}

std::string directory_problem(const std::filesystem::path& directory, std::error_code ec) {
    if (ec == std::errc::no_such_file_or_directory)
        return "migrations directory " + quoted(directory) + " does not exist";
    if (ec == std::errc::not_a_directory)
        return "migrations directory " + quoted(directory) + " is not a directory";
    return "migrations directory " + quoted(directory) + " cannot be read: " + ec.message();
}

// The files named like migrations, by number (then name); std::nullopt: the directory cannot be read.
std::optional<std::vector<migration_file>> list_files(const std::filesystem::path& directory,
                                                      std::vector<std::string>& problems) {
    std::vector<migration_file> files;
    std::error_code ec;
    for (std::filesystem::directory_iterator it(directory, ec), end; !ec && it != end; it.increment(ec))
        if (looks_like_migration(it->path()))
            if (auto file = read_name(it->path(), problems)) files.push_back(std::move(*file));
    if (ec) {
        problems.push_back(directory_problem(directory, ec));
        return std::nullopt;
    }
    std::ranges::sort(files, [](const auto& a, const auto& b) {
        return std::tie(a.version, a.path) < std::tie(b.version, b.path);
    });
    return files;
}

std::string numbers(int first, int last) {
    return first == last ? std::to_string(first) : std::to_string(first) + ".." + std::to_string(last);
}

// Each number used twice, with its files, and every number missing from 1..the last.
void check_numbers(const std::vector<migration_file>& files, const std::filesystem::path& directory,
                   std::vector<std::string>& problems) {
    std::string missing;
    int expected = 1;
    for (auto at = files.begin(); at != files.end();) {
        const auto same =
            std::ranges::find_if(at, files.end(), [&](const auto& f) { return f.version != at->version; });
        if (same - at > 1) {
            std::string names;
            for (auto f = at; f != same; ++f) names += (f == at ? "" : ", ") + f->path.filename().string();
            problems.push_back("migrations directory " + quoted(directory) + ": number " +
                               std::to_string(at->version) + " is used by more than one file: " + names);
        }
        if (at->version > expected)
            missing += (missing.empty() ? "" : ", ") + numbers(expected, at->version - 1);
        expected = at->version + 1;
        at = same;
    }
    if (!missing.empty())
        problems.push_back("migrations directory " + quoted(directory) + " lacks number " + missing +
                           ": the files must be numbered 1.." + std::to_string(expected - 1) +
                           " without a gap");
}

// The file's text; or a problem naming it (unreadable, or a NUL byte SQLite would stop at).
std::optional<std::string> read_sql(const std::filesystem::path& path, std::vector<std::string>& problems) {
    const std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::fopen(path.c_str(), "rb"), &std::fclose);
    std::string text;
    std::array<char, 8192> buffer{};
    bool failed = !file;
    int error = errno; // fopen's, read before anything else can set it
    if (file) {
        std::size_t got = 0;
        do { // a short read is the end of the file or an error: no read after it
            got = std::fread(buffer.data(), 1, buffer.size(), file.get());
            text.append(buffer.data(), got);
        } while (got == buffer.size());
        failed = std::ferror(file.get()) != 0;
        error = errno; // fread's
    }
    if (failed) {
        problems.push_back("migration file " + quoted(path) +
                           " cannot be read: " + std::error_code(error, std::generic_category()).message());
        return std::nullopt;
    }
    if (const auto nul = text.find('\0'); nul != std::string::npos) {
        problems.push_back("migration file " + quoted(path) + " contains a NUL byte (at offset " +
                           std::to_string(nul) + "); SQLite would run only the text before it");
        return std::nullopt;
    }
    return text;
}

} // namespace
} // namespace sqlpool::detail

namespace sqlpool {

std::vector<migration> migrations_from_directory(const std::filesystem::path& directory) {
    std::vector<std::string> problems;
    const auto files = detail::list_files(directory, problems);
    if (files && files->empty() && problems.empty())
        problems.push_back("migrations directory " + detail::quoted(directory) +
                           " holds no migration files (NNNN_description.sql)");
    std::vector<migration> migrations;
    if (files) {
        detail::check_numbers(*files, directory, problems);
        for (const auto& file : *files)
            if (auto sql = detail::read_sql(file.path, problems))
                migrations.push_back(
                    {.version = file.version, .description = file.description, .sql = std::move(*sql)});
    }
    if (!problems.empty()) throw config_error(std::move(problems));
    return migrations;
}

} // namespace sqlpool
