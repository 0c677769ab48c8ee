// Checks an enum's names through a public function that writes them, without knowing the names.
#pragma once

#include <set>
#include <string>

namespace sqlpool_test {

// True when name(E(i)) for i in 0..count-1 are all distinct and none is "?", what sqlpool writes
// for a value its table of names lacks.
template <class E, class Name>
bool every_value_named(int count, Name name) {
    std::set<std::string> names;
    for (int i = 0; i < count; ++i) {
        const std::string text = name(static_cast<E>(i));
        if (text.empty() || text == "?" || !names.insert(text).second) return false;
    }
    return true;
}

} // namespace sqlpool_test
