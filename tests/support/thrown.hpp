// Catching one exception type to look at it. Plain header: no sqlpool import.
#pragma once

#include <optional>
#include <utility>

namespace sqlpool_test {

// Runs `f` and returns the exception of type E it threw, or nullopt when it threw nothing. Any other
// exception escapes, which fails the test.
template <class E, class F>
std::optional<E> thrown(F&& f) {
    try {
        std::forward<F>(f)();
    } catch (const E& e) {
        return e;
    }
    return std::nullopt;
}

} // namespace sqlpool_test
