// The name some test files use for scratch_dir: a fresh, uniquely named directory under the system
// temp directory, removed with everything in it when the object goes out of scope.
#pragma once

#include "scratch_dir.hpp"

namespace sqlpool_test {
using temp_dir = scratch_dir;
} // namespace sqlpool_test
