// Which C++ types bind to a parameter and read from a column, and how. Reading checks SQLite's
// storage class: a TEXT column read as an integer, or NULL read as a non-optional, is a misuse_error.
module;
#include "../detail/gmf.hpp"
export module sqlpool:values;
import :errors;

namespace sqlpool::detail {

template <class T>
struct is_optional : std::false_type {};
template <class T>
struct is_optional<std::optional<T>> : std::true_type {};

inline const char* storage_class_name(int type) noexcept {
    switch (type) {
    case SQLITE_INTEGER:
        return "INTEGER";
    case SQLITE_FLOAT:
        return "REAL";
    case SQLITE_TEXT:
        return "TEXT";
    case SQLITE_BLOB:
        return "BLOB";
    default:
        return "NULL";
    }
}

} // namespace sqlpool::detail

export namespace sqlpool {

// A value that reads from a column: the column's storage class must match.
template <class T>
struct column_traits;

template <>
struct column_traits<std::int64_t> {
    static constexpr const char* name = "std::int64_t";
    static bool accepts(int type) noexcept { return type == SQLITE_INTEGER; }
    static std::int64_t read(sqlite3_stmt* stmt, int index) { return sqlite3_column_int64(stmt, index); }
};

template <>
struct column_traits<int> {
    static constexpr const char* name = "int";
    static bool accepts(int type) noexcept { return type == SQLITE_INTEGER; }
    static int read(sqlite3_stmt* stmt, int index) {
        const std::int64_t value = sqlite3_column_int64(stmt, index);
        if (value < std::numeric_limits<int>::min() || value > std::numeric_limits<int>::max())
            throw misuse_error("column " + std::to_string(index) + " holds " + std::to_string(value) +
                               ", which does not fit in int");
        return static_cast<int>(value);
    }
};

template <>
struct column_traits<bool> {
    static constexpr const char* name = "bool";
    static bool accepts(int type) noexcept { return type == SQLITE_INTEGER; }
    static bool read(sqlite3_stmt* stmt, int index) { return sqlite3_column_int64(stmt, index) != 0; }
};

// An INTEGER widens to double without surprise; anything else is an error.
template <>
struct column_traits<double> {
    static constexpr const char* name = "double";
    static bool accepts(int type) noexcept { return type == SQLITE_FLOAT || type == SQLITE_INTEGER; }
    static double read(sqlite3_stmt* stmt, int index) { return sqlite3_column_double(stmt, index); }
};

template <>
struct column_traits<std::string> {
    static constexpr const char* name = "std::string";
    static bool accepts(int type) noexcept { return type == SQLITE_TEXT; }
    static std::string read(sqlite3_stmt* stmt, int index) {
        const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt, index));
        const auto size = static_cast<std::size_t>(sqlite3_column_bytes(stmt, index));
        return text == nullptr ? std::string{} : std::string(text, size);
    }
};

template <>
struct column_traits<std::vector<std::byte>> {
    static constexpr const char* name = "std::vector<std::byte>";
    static bool accepts(int type) noexcept { return type == SQLITE_BLOB; }
    static std::vector<std::byte> read(sqlite3_stmt* stmt, int index) {
        const auto* data = static_cast<const std::byte*>(sqlite3_column_blob(stmt, index));
        const auto size = static_cast<std::size_t>(sqlite3_column_bytes(stmt, index));
        return data == nullptr ? std::vector<std::byte>{} : std::vector<std::byte>(data, data + size);
    }
};

template <class T>
struct column_traits<std::optional<T>> {
    static constexpr const char* name = "std::optional";
    static bool accepts(int) noexcept { return true; }
};

template <class T>
concept column_type = requires { column_traits<T>::name; };

// A value that binds to a parameter. Text and blobs are copied by SQLite (SQLITE_TRANSIENT), so
// a bound temporary may die before the statement steps.
template <class T>
concept bindable = std::integral<std::remove_cvref_t<T>> || std::floating_point<std::remove_cvref_t<T>> ||
                   std::convertible_to<const T&, std::string_view> ||
                   std::convertible_to<const T&, std::span<const std::byte>> ||
                   std::same_as<std::remove_cvref_t<T>, std::nullptr_t> ||
                   std::same_as<std::remove_cvref_t<T>, std::nullopt_t> ||
                   detail::is_optional<std::remove_cvref_t<T>>::value;

} // namespace sqlpool

namespace sqlpool::detail {

template <class Row, std::size_t... I>
constexpr bool elements_bindable(std::index_sequence<I...> /*unused*/) {
    return (bindable<std::tuple_element_t<I, Row>> && ...);
}

} // namespace sqlpool::detail

export namespace sqlpool {

// A row of parameters for connection::exec_many(): a std::tuple, std::pair or std::array (anything
// tuple-like) whose every element is bindable.
template <class T>
concept bindable_row = requires { std::tuple_size<std::remove_cvref_t<T>>::value; } &&
                       detail::elements_bindable<std::remove_cvref_t<T>>(
                           std::make_index_sequence<std::tuple_size_v<std::remove_cvref_t<T>>>{});

} // namespace sqlpool

namespace sqlpool::detail {

// Reads column `index` (0-based) of the current row as T, checking its storage class.
template <column_type T>
T read_column(sqlite3_stmt* stmt, int index) {
    const int type = sqlite3_column_type(stmt, index);
    if constexpr (is_optional<T>::value) {
        if (type == SQLITE_NULL) return std::nullopt;
        return read_column<typename T::value_type>(stmt, index);
    } else {
        if (!column_traits<T>::accepts(type)) {
            const char* column = sqlite3_column_name(stmt, index);
            throw misuse_error("column " + std::to_string(index) + " ('" +
                               (column != nullptr ? column : "?") + "') is " + storage_class_name(type) +
                               ", read as " + column_traits<T>::name +
                               (type == SQLITE_NULL ? " (use std::optional for nullable columns)" : ""));
        }
        return column_traits<T>::read(stmt, index);
    }
}

// Binds `value` to parameter `index` (1-based) and returns SQLite's result code.
template <bindable T>
int bind_value(sqlite3_stmt* stmt, int index, const T& value) {
    using V = std::remove_cvref_t<T>;
    if constexpr (std::same_as<V, std::nullptr_t> || std::same_as<V, std::nullopt_t>) {
        return sqlite3_bind_null(stmt, index);
    } else if constexpr (std::same_as<V, bool>) {
        return sqlite3_bind_int(stmt, index, value ? 1 : 0);
    } else if constexpr (std::integral<V>) {
        if constexpr (std::is_unsigned_v<V> && sizeof(V) >= sizeof(std::int64_t)) {
            if (value > static_cast<V>(std::numeric_limits<std::int64_t>::max()))
                throw misuse_error("parameter " + std::to_string(index) + ": " + std::to_string(value) +
                                   " does not fit in a 64-bit integer");
        }
        return sqlite3_bind_int64(stmt, index, static_cast<sqlite3_int64>(value));
    } else if constexpr (std::floating_point<V>) {
        return sqlite3_bind_double(stmt, index, static_cast<double>(value));
    } else if constexpr (std::convertible_to<const T&, std::string_view>) {
        const std::string_view text = value;
        // An empty view may have a null data(), which SQLite would bind as NULL, not as ''.
        return sqlite3_bind_text64(stmt, index, text.data() != nullptr ? text.data() : "", text.size(),
                                   SQLITE_TRANSIENT, SQLITE_UTF8);
    } else if constexpr (std::convertible_to<const T&, std::span<const std::byte>>) {
        const std::span<const std::byte> blob = value;
        // A zero-length blob needs a non-null pointer, or SQLite binds NULL instead.
        static constexpr std::byte empty{};
        return sqlite3_bind_blob64(stmt, index, blob.empty() ? &empty : blob.data(), blob.size(),
                                   SQLITE_TRANSIENT);
    } else if constexpr (is_optional<V>::value) {
        if (!value.has_value()) return sqlite3_bind_null(stmt, index);
        return bind_value(stmt, index, *value);
    } else {
        static_assert(std::same_as<V, void>, "bindable type without a binding");
    }
}

} // namespace sqlpool::detail
