#define BOOST_TEST_MODULE stats
#include <boost/test/unit_test.hpp>

#include <array>
#include <bit>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <type_traits>

import sqlpool;

namespace {

// pool_stats and retired_counts are plain runs of 64-bit words, so a test can fill and read every
// field, a field added later included, without listing them: the module's list must do the work.
static_assert(std::has_unique_object_representations_v<sqlpool::pool_stats>);
static_assert(std::has_unique_object_representations_v<sqlpool::retired_counts>);

constexpr std::size_t stats_words = sizeof(sqlpool::pool_stats) / sizeof(std::uint64_t);
constexpr std::size_t retired_words = sizeof(sqlpool::retired_counts) / sizeof(std::uint64_t);
using stats_array = std::array<std::uint64_t, stats_words>;
using retired_array = std::array<std::uint64_t, retired_words>;

// Word i holds first + i * step.
stats_array words(std::uint64_t first, std::uint64_t step) {
    stats_array w{};
    for (std::size_t i = 0; i < w.size(); ++i) w[i] = first + (i * step);
    return w;
}

bool is_wait_word(std::size_t i) {
    const std::size_t at = i * sizeof(std::uint64_t);
    return at == offsetof(sqlpool::pool_stats, wait_p50) || at == offsetof(sqlpool::pool_stats, wait_p99) ||
           at == offsetof(sqlpool::pool_stats, wait_max);
}

} // namespace

BOOST_AUTO_TEST_CASE(plus_equals_sums_every_count_and_keeps_the_larger_wait) {
    const stats_array small = words(1, 1);
    const stats_array large = words(1000, 3);
    for (const auto& [left, right] : {std::pair{small, large}, std::pair{large, small}}) {
        auto sum = std::bit_cast<sqlpool::pool_stats>(left);
        sum += std::bit_cast<sqlpool::pool_stats>(right);
        const auto got = std::bit_cast<stats_array>(sum);
        for (std::size_t i = 0; i < stats_words; ++i) {
            BOOST_TEST_CONTEXT("word " << i) {
                if (is_wait_word(i))
                    BOOST_TEST(got[i] == large[i]);
                else
                    BOOST_TEST(got[i] == small[i] + large[i]);
            }
        }
    }
}

BOOST_AUTO_TEST_CASE(plus_equals_returns_its_left_side) {
    sqlpool::pool_stats a;
    BOOST_TEST(&(a += sqlpool::pool_stats{}) == &a);
}

BOOST_AUTO_TEST_CASE(retired_total_counts_every_field) {
    retired_array w{};
    std::uint64_t expected = 0;
    for (std::size_t i = 0; i < w.size(); ++i) expected += (w[i] = std::uint64_t{1} << i);
    BOOST_TEST(std::bit_cast<sqlpool::retired_counts>(w).total() == expected);
}

BOOST_AUTO_TEST_CASE(each_reason_adds_to_a_field_of_its_own) {
    // Every reason but none (0) counts in a different field; together they reach every field.
    sqlpool::retired_counts counts;
    retired_array before{};
    for (int reason = 1; reason <= static_cast<int>(sqlpool::retire_reason::resized); ++reason) {
        BOOST_TEST_CONTEXT(sqlpool::to_string(static_cast<sqlpool::retire_reason>(reason))) {
            counts.add(static_cast<sqlpool::retire_reason>(reason), 5);
            const auto after = std::bit_cast<retired_array>(counts);
            std::size_t changed = 0;
            for (std::size_t i = 0; i < retired_words; ++i)
                if (after[i] != before[i]) {
                    ++changed;
                    BOOST_TEST(before[i] == 0u); // a field no earlier reason used
                    BOOST_TEST(after[i] == 5u);
                }
            BOOST_TEST(changed == 1u);
            before = after;
        }
    }
    BOOST_TEST(counts.total() == 5u * retired_words);
    counts.add(sqlpool::retire_reason::none, 7);
    BOOST_TEST((std::bit_cast<retired_array>(counts) == before));
}
