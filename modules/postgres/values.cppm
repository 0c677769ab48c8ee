// values: C++ values as PostgreSQL parameters and columns, in libpq's text format (every type's
// text form, https://www.postgresql.org/docs/15/datatype.html): parameters are written with
// std::to_chars, columns read with std::from_chars, so no locale is involved.
module;
#include "gmf.hpp"
export module sqlpool.postgres:values;
import sqlpool;

namespace sqlpool::postgres::detail {

template <class T>
inline constexpr bool is_optional = false;
template <class T>
inline constexpr bool is_optional<std::optional<T>> = true;

template <class T>
concept plain_number = (std::integral<T> && !std::same_as<T, bool>) || std::floating_point<T>;

template <class T>
std::string number_text(T value) {
    std::array<char, 64> buffer{};
    const auto [end, ec] = std::to_chars(buffer.data(), buffer.data() + buffer.size(), value);
    if constexpr (std::floating_point<T>) {
        if (std::isnan(value)) return "NaN";
        if (std::isinf(value)) return value > 0 ? "Infinity" : "-Infinity";
    }
    return {buffer.data(), end};
}

inline std::string hex_bytes(std::span<const std::byte> bytes) {
    static constexpr std::string_view digits = "0123456789abcdef";
    std::string text = "\\x";
    text.reserve(2 + bytes.size() * 2);
    for (const std::byte b : bytes) {
        text += digits[std::to_integer<unsigned>(b) >> 4U];
        text += digits[std::to_integer<unsigned>(b) & 0xfU];
    }
    return text;
}

} // namespace sqlpool::postgres::detail

export namespace sqlpool::postgres {

// Bytes: a bytea parameter or column.
using bytes = std::vector<std::byte>;

// What binds to a parameter ($1, $2, ...): numbers, bool, text, bytes, NULL (std::nullopt,
// nullptr) and std::optional of any of these.
template <class T>
concept bindable =
    detail::plain_number<T> || std::same_as<T, bool> || std::convertible_to<T, std::string_view> ||
    std::same_as<T, bytes> || std::same_as<T, std::nullopt_t> || std::same_as<T, std::nullptr_t> ||
    (detail::is_optional<T> && !detail::is_optional<typename T::value_type>);

// What a column reads into: numbers, bool, std::string, bytes, and std::optional of these (for NULL).
template <class T>
concept column_type =
    detail::plain_number<T> || std::same_as<T, bool> || std::same_as<T, std::string> ||
    std::same_as<T, bytes> || (detail::is_optional<T> && !detail::is_optional<typename T::value_type>);

// A parameter's text, or nullopt for NULL.
template <bindable T>
[[nodiscard]] std::optional<std::string> to_param(const T& value) {
    if constexpr (std::same_as<T, std::nullopt_t> || std::same_as<T, std::nullptr_t>) {
        return std::nullopt;
    } else if constexpr (detail::is_optional<T>) {
        if (!value) return std::nullopt;
        return to_param(*value);
    } else if constexpr (std::same_as<T, bool>) {
        return std::string(value ? "t" : "f");
    } else if constexpr (detail::plain_number<T>) {
        return detail::number_text(value);
    } else if constexpr (std::same_as<T, bytes>) {
        return detail::hex_bytes(value);
    } else {
        return std::string(std::string_view(value));
    }
}

// A column's value from its text (`text` is null for SQL NULL); misuse_error names the column and
// what did not fit.
template <column_type T>
[[nodiscard]] T from_text(const char* text, std::size_t size, std::string_view column);

} // namespace sqlpool::postgres

namespace sqlpool::postgres::detail {

[[noreturn]] inline void cannot_read(std::string_view column, std::string_view what, std::string_view text) {
    throw misuse_error("column '" + std::string(column) + "' holds '" + std::string(text) + "', not " +
                       std::string(what));
}

template <class T>
T parse_number(std::string_view text, std::string_view column) {
    if constexpr (std::floating_point<T>) {
        if (text == "NaN") return std::numeric_limits<T>::quiet_NaN();
        if (text == "Infinity") return std::numeric_limits<T>::infinity();
        if (text == "-Infinity") return -std::numeric_limits<T>::infinity();
    }
    T value{};
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc{} || end != text.data() + text.size())
        cannot_read(column, "a number of this type", text);
    return value;
}

inline int hex_digit(char c) noexcept {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// bytea's hex output (https://www.postgresql.org/docs/15/datatype-binary.html), the default since 9.0.
inline bytes parse_bytes(std::string_view text, std::string_view column) {
    if (!text.starts_with("\\x") || text.size() % 2 != 0) cannot_read(column, "bytea in hex format", text);
    bytes out;
    out.reserve(text.size() / 2 - 1);
    for (std::size_t i = 2; i < text.size(); i += 2) {
        const int high = hex_digit(text[i]);
        const int low = hex_digit(text[i + 1]);
        if (high < 0 || low < 0) cannot_read(column, "bytea in hex format", text);
        out.push_back(static_cast<std::byte>(high * 16 + low));
    }
    return out;
}

} // namespace sqlpool::postgres::detail

export namespace sqlpool::postgres {

template <column_type T>
T from_text(const char* text, std::size_t size, std::string_view column) {
    if constexpr (detail::is_optional<T>) {
        if (text == nullptr) return std::nullopt;
        return from_text<typename T::value_type>(text, size, column);
    } else {
        if (text == nullptr)
            throw misuse_error("column '" + std::string(column) + "' is NULL; read it as std::optional");
        const std::string_view view(text, size);
        if constexpr (std::same_as<T, std::string>) {
            return std::string(view);
        } else if constexpr (std::same_as<T, bool>) {
            if (view != "t" && view != "f") detail::cannot_read(column, "a boolean", view);
            return view == "t";
        } else if constexpr (std::same_as<T, bytes>) {
            return detail::parse_bytes(view, column);
        } else {
            return detail::parse_number<T>(view, column);
        }
    }
}

} // namespace sqlpool::postgres
