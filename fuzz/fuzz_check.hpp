// FUZZ_CHECK: the fuzz targets' assertion. A failed check prints what failed and aborts, which
// libFuzzer reports as a crash (and the replay tests as a failed test). Never compiled out.
#pragma once

#include <cstdio>
#include <cstdlib>

namespace sqlpool_fuzz {

[[noreturn]] inline void check_failed(const char* what, const char* file, int line) {
    std::fprintf(stderr, "%s:%d: FUZZ_CHECK failed: %s\n", file, line, what);
    std::fflush(stderr);
    std::abort();
}

} // namespace sqlpool_fuzz

#define FUZZ_CHECK(condition)                                                                                \
    ((condition) ? static_cast<void>(0) : ::sqlpool_fuzz::check_failed(#condition, __FILE__, __LINE__))
