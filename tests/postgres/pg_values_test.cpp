// values: parameters written as PostgreSQL's text forms, columns read back from them; what does
// not fit is a misuse_error naming the column.
#define BOOST_TEST_MODULE pg_values
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <optional>
#include <string>

import sqlpool.postgres;

namespace pg = sqlpool::postgres;

namespace {
template <class T>
T read(const char* text) {
    return pg::from_text<T>(text, text == nullptr ? 0 : std::strlen(text), "c");
}
} // namespace

BOOST_AUTO_TEST_CASE(parameters_in_text_form) {
    BOOST_TEST(*pg::to_param(42) == "42");
    BOOST_TEST(*pg::to_param(std::int64_t{-9'223'372'036'854'775'807} - 1) == "-9223372036854775808");
    BOOST_TEST(*pg::to_param(true) == "t");
    BOOST_TEST(*pg::to_param(false) == "f");
    BOOST_TEST(*pg::to_param(0.1) == "0.1");
    BOOST_TEST(*pg::to_param(std::numeric_limits<double>::infinity()) == "Infinity");
    BOOST_TEST(*pg::to_param(std::nan("")) == "NaN");
    BOOST_TEST(*pg::to_param(std::string("a'b")) == "a'b");
    BOOST_TEST(*pg::to_param("text") == "text");
    BOOST_TEST(*pg::to_param(pg::bytes{std::byte{0x00}, std::byte{0xff}}) == "\\x00ff");
    BOOST_TEST(!pg::to_param(std::nullopt).has_value());
    BOOST_TEST(!pg::to_param(std::optional<int>{}).has_value());
    BOOST_TEST(*pg::to_param(std::optional<int>{7}) == "7");
}

BOOST_AUTO_TEST_CASE(columns_from_text_form) {
    BOOST_TEST(read<int>("-17") == -17);
    BOOST_TEST(read<std::int64_t>("9223372036854775807") == std::numeric_limits<std::int64_t>::max());
    BOOST_TEST(read<double>("0.1") == 0.1);
    BOOST_TEST(std::isinf(read<double>("-Infinity")));
    BOOST_TEST(std::isnan(read<double>("NaN")));
    BOOST_TEST(read<bool>("t"));
    BOOST_TEST(!read<bool>("f"));
    BOOST_TEST(read<std::string>("héllo") == "héllo");
    BOOST_TEST((read<pg::bytes>("\\x00ff") == pg::bytes{std::byte{0x00}, std::byte{0xff}}));
    BOOST_TEST(!read<std::optional<int>>(nullptr).has_value());
    BOOST_TEST(*read<std::optional<int>>("3") == 3);
}

BOOST_AUTO_TEST_CASE(what_does_not_fit_is_a_misuse_error_naming_the_column) {
    BOOST_CHECK_THROW(read<int>(nullptr), sqlpool::misuse_error);
    BOOST_CHECK_THROW(read<int>("12x"), sqlpool::misuse_error);
    BOOST_CHECK_THROW(read<int>("99999999999"), sqlpool::misuse_error); // out of int's range
    BOOST_CHECK_THROW(read<bool>("yes"), sqlpool::misuse_error);
    BOOST_CHECK_THROW(read<pg::bytes>("\\x0"), sqlpool::misuse_error);
    BOOST_CHECK_THROW(read<pg::bytes>("\\xzz"), sqlpool::misuse_error);
    try {
        (void)pg::from_text<int>("abc", 3, "price");
        BOOST_FAIL("no error");
    } catch (const sqlpool::misuse_error& e) {
        BOOST_TEST(std::string(e.what()).find("'price'") != std::string::npos);
    }
}
