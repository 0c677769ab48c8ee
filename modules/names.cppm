// Each enum's names, written once: a table of {value, name} per enum, next to the enum, that
// to_string, the configuration text, SQL pragmas and metric labels all read.
module;
#include "detail/gmf.hpp"
export module sqlpool:names;

namespace sqlpool::detail {

template <class E>
struct enum_name {
    E value;
    const char* name;
};

template <class E, std::size_t N>
using enum_names = std::array<enum_name<E>, N>;

// The name of `value`, or "?" for a value the table lacks.
template <class E, std::size_t N>
constexpr const char* name_of(const enum_names<E, N>& names, E value) noexcept {
    for (const auto& entry : names)
        if (entry.value == value) return entry.name;
    return "?";
}

// The value named `name`, or std::nullopt.
template <class E, std::size_t N>
constexpr std::optional<E> value_of(const enum_names<E, N>& names, std::string_view name) noexcept {
    for (const auto& entry : names)
        if (name == entry.name) return entry.value;
    return std::nullopt;
}

// "a, b, c": the names, for an error message that lists the valid ones.
template <class E, std::size_t N>
std::string names_list(const enum_names<E, N>& names) {
    std::string list;
    for (const auto& entry : names) list += (list.empty() ? "" : ", ") + std::string(entry.name);
    return list;
}

// True when entry i names the enumerator of value i: a table of an enum numbered 0..N-1 then
// holds every enumerator below N once, in order (checked by static_assert beside each table).
template <class E, std::size_t N>
constexpr bool in_enum_order(const enum_names<E, N>& names) noexcept {
    for (std::size_t i = 0; i < N; ++i)
        if (names[i].value != static_cast<E>(i)) return false;
    return true;
}

} // namespace sqlpool::detail
