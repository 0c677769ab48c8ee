// The reliability scenarios R1-R6 (docs/reliability.md): one Boost.Test executable; ctest runs
// each scenario as its own test (--run_test=<suite>), so each gets its own process.
#define BOOST_TEST_MODULE reliability
#include <boost/test/unit_test.hpp>
