#define BOOST_TEST_MODULE metrics
#include <boost/test/unit_test.hpp>

#include <array>
#include <bit>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>

import sqlpool;

using namespace std::chrono_literals;

namespace {

sqlpool::pool_stats sample() {
    sqlpool::pool_stats s;
    s.total = 4;
    s.idle = 3;
    s.in_use = 1;
    s.max_connections = 8;
    s.acquired = 1234;
    s.timeouts = 2;
    s.closed.aged = 5;
    s.closed.shutdown = 1;
    s.transactions.committed = 99;
    s.transactions.busy_surfaced = 1;
    s.wait_p50 = 1500ns;
    s.wait_p99 = 2ms;
    return s;
}

bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

// A wait as to_prometheus writes it: seconds.
std::string seconds(std::uint64_t ns) {
    std::array<char, 32> text{};
    std::snprintf(
        text.data(), text.size(), "%.9g",
        std::chrono::duration<double>(std::chrono::nanoseconds(static_cast<std::int64_t>(ns))).count());
    return text.data();
}

bool is_wait_at(std::size_t offset) {
    return offset == offsetof(sqlpool::pool_stats, wait_p50) ||
           offset == offsetof(sqlpool::pool_stats, wait_p99) ||
           offset == offsetof(sqlpool::pool_stats, wait_max);
}

} // namespace

BOOST_AUTO_TEST_CASE(prometheus_text_format) {
    const auto text = sqlpool::to_prometheus(sample(), "app\"db");
    BOOST_TEST(contains(text, "# TYPE sqlpool_connections gauge\n"));
    BOOST_TEST(contains(text, "sqlpool_connections{pool=\"app\\\"db\"} 4\n"));
    BOOST_TEST(contains(text, "# TYPE sqlpool_acquired_total counter\n"));
    BOOST_TEST(contains(text, "sqlpool_acquired_total{pool=\"app\\\"db\"} 1234\n"));
    BOOST_TEST(contains(text, "sqlpool_connections_closed_total{pool=\"app\\\"db\",reason=\"aged\"} 5\n"));
    BOOST_TEST(contains(text, "sqlpool_transactions_total{pool=\"app\\\"db\",outcome=\"committed\"} 99\n"));
    BOOST_TEST(contains(text, "sqlpool_acquire_wait_seconds{pool=\"app\\\"db\",quantile=\"0.99\"} 0.002\n"));
    // One HELP/TYPE pair per metric family, not per series.
    std::size_t types = 0;
    for (std::size_t at = 0;
         (at = text.find("# TYPE sqlpool_connections_closed_total", at)) != std::string::npos; ++at)
        ++types;
    BOOST_TEST(types == 1u);
    BOOST_TEST(text.back() == '\n');
}

BOOST_AUTO_TEST_CASE(json_object) {
    const auto json = sqlpool::to_json(sample(), "main");
    BOOST_TEST(json.front() == '{');
    BOOST_TEST(json.back() == '}');
    BOOST_TEST(contains(json, "\"pool\":\"main\""));
    BOOST_TEST(contains(json, "\"total\":4"));
    BOOST_TEST(contains(json, "\"closed\":{\"aged\":5,"));
    BOOST_TEST(contains(json, "\"busy_surfaced\":1"));
    BOOST_TEST(contains(json, "\"wait_ns\":{\"p50\":1500,\"p99\":2000000,"));
    BOOST_TEST(contains(sqlpool::to_json(sample(), "a\"b\n"), "\"pool\":\"a\\\"b\\n\""));
}

BOOST_AUTO_TEST_CASE(live_pool_stats_render) {
    sqlpool::pool pool{sqlpool::pool_config{.database = ":memory:", .background_maintenance = false}};
    {
        auto conn = pool.acquire();
    }
    BOOST_TEST(
        contains(sqlpool::to_prometheus(pool.stats()), "sqlpool_acquired_total{pool=\"default\"} 1\n"));
    BOOST_TEST(contains(sqlpool::to_json(pool.stats()), "\"acquired\":1,"));
}

BOOST_AUTO_TEST_CASE(every_field_is_exported_once) {
    // Filled word by word (pool_stats is a run of 64-bit words), so that every field, one added
    // later included, holds its own value without this test listing the fields.
    std::array<std::uint64_t, sizeof(sqlpool::pool_stats) / sizeof(std::uint64_t)> words{};
    for (std::size_t i = 0; i < words.size(); ++i) words[i] = 1001 + i;
    const auto stats = std::bit_cast<sqlpool::pool_stats>(words);
    const auto json = sqlpool::to_json(stats);
    const auto text = sqlpool::to_prometheus(stats);
    std::size_t series = 0;
    for (std::size_t at = 0; at < text.size(); at = text.find('\n', at) + 1)
        if (text[at] != '#') ++series;
    BOOST_TEST(series == words.size());
    for (std::size_t i = 0; i < words.size(); ++i) {
        BOOST_TEST_CONTEXT("word " << i << " = " << words[i]) {
            const auto value = std::to_string(words[i]);
            BOOST_TEST((contains(json, ":" + value + ",") || contains(json, ":" + value + "}")));
            BOOST_TEST(contains(
                text, "} " + (is_wait_at(i * sizeof(std::uint64_t)) ? seconds(words[i]) : value) + "\n"));
        }
    }
    BOOST_TEST(!contains(text, " \n")); // every family has its HELP text
}
