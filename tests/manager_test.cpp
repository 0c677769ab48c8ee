#define BOOST_TEST_MODULE manager
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <filesystem>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <unistd.h>

#include "support/scratch_dir.hpp"

import sqlpool;

using namespace std::chrono_literals;

namespace {

sqlpool::pool_config config_for(const std::string& path) {
    return sqlpool::pool_config{
        .database = path, .min_connections = 1, .max_connections = 4, .background_maintenance = false};
}

struct fixture {
    sqlpool_test::scratch_dir dir{"manager"};
    std::string path = dir.file("m.db");
    sqlpool::pool_manager manager;
};

// Runs with the working directory set to `dir`, for relative spellings.
struct working_directory {
    std::filesystem::path saved = std::filesystem::current_path();
    explicit working_directory(const std::filesystem::path& dir) { std::filesystem::current_path(dir); }
    ~working_directory() { std::filesystem::current_path(saved); }
};

} // namespace

BOOST_FIXTURE_TEST_SUITE(manager, fixture)

BOOST_AUTO_TEST_CASE(every_spelling_of_one_file_shares_one_pool) {
    auto first = manager.get_or_create(config_for(path));
    const working_directory cwd(dir.path());
    std::filesystem::create_directory(dir.path() / "sub");
    std::filesystem::create_symlink(path, dir.path() / "link.db");
    for (const std::string& spelling :
         {std::string("m.db"), std::string("./m.db"), std::string("sub/../m.db"),
          dir.path().string() + "//m.db", std::string("link.db")}) {
        BOOST_TEST_CONTEXT(spelling) {
            BOOST_TEST((manager.get_or_create(config_for(spelling)) == first));
            BOOST_TEST((manager.find(spelling) == first));
        }
    }
    BOOST_TEST(manager.size() == 1u);
    auto other = manager.get_or_create(config_for(dir.file("other.db")));
    BOOST_TEST((other != first));
    BOOST_TEST(manager.size() == 2u);
}

BOOST_AUTO_TEST_CASE(concurrent_get_or_create_makes_exactly_one_pool) {
    std::vector<std::shared_ptr<sqlpool::pool>> seen(32);
    std::vector<std::thread> threads;
    for (std::size_t i = 0; i < seen.size(); ++i)
        threads.emplace_back([&, i] { seen[i] = manager.get_or_create(config_for(path)); });
    for (auto& t : threads) t.join();
    const std::set<sqlpool::pool*> distinct = [&] {
        std::set<sqlpool::pool*> s;
        for (const auto& p : seen) s.insert(p.get());
        return s;
    }();
    BOOST_TEST(distinct.size() == 1u);
    BOOST_TEST(manager.size() == 1u);
    BOOST_TEST(seen.front()->stats().created == 1u); // min_connections 1: one pool opened one connection
}

BOOST_AUTO_TEST_CASE(conflicting_config_names_both_values) {
    (void)manager.get_or_create(config_for(path));
    auto different = config_for(path);
    different.max_connections = 2;
    different.idle_timeout = 1min;
    try {
        (void)manager.get_or_create(different);
        BOOST_FAIL("no config_error");
    } catch (const sqlpool::config_error& e) {
        const std::string what = e.what();
        BOOST_TEST(what.find("max_connections is 4 in the existing pool, 2 requested") != std::string::npos);
        BOOST_TEST(what.find("idle_timeout is 600000ms in the existing pool, 60000ms requested") !=
                   std::string::npos);
    }
}

// The hooks are part of the configuration: a request with other hooks than the existing pool's
// would otherwise get a pool that runs the old ones.
std::string refusal(sqlpool::pool_manager& manager, const sqlpool::pool_config& config) {
    try {
        (void)manager.get_or_create(config);
    } catch (const sqlpool::config_error& e) {
        return e.what();
    }
    return "(accepted)";
}

struct quiet_listener : sqlpool::pool_listener {};

void first_hook(sqlpool::connection&) {}
void second_hook(sqlpool::connection&) {}

BOOST_AUTO_TEST_CASE(conflicting_hooks_are_named) {
    auto base = config_for(path);
    base.on_connect = first_hook;
    base.listener = std::make_shared<quiet_listener>();
    base.authorizer = [](int, std::string_view, std::string_view, std::string_view, std::string_view) {
        return sqlpool::authorizer_result::ok;
    };
    auto pool = manager.get_or_create(base);
    BOOST_TEST((manager.get_or_create(base) == pool)); // the same hooks: the same pool

    auto other_on_connect = base;
    other_on_connect.on_connect = second_hook;
    BOOST_TEST(refusal(manager, other_on_connect).find("on_connect differs") != std::string::npos);
    auto lambda_on_connect = base;
    lambda_on_connect.on_connect = [](sqlpool::connection&) {};
    BOOST_TEST(refusal(manager, lambda_on_connect).find("on_connect differs") != std::string::npos);

    auto other_listener = base;
    other_listener.listener = std::make_shared<quiet_listener>();
    BOOST_TEST(refusal(manager, other_listener).find("listener differs") != std::string::npos);

    auto no_authorizer = base;
    no_authorizer.authorizer = nullptr;
    BOOST_TEST(refusal(manager, no_authorizer)
                   .find("authorizer differs: set in the existing pool, unset requested") !=
               std::string::npos);
}

BOOST_AUTO_TEST_CASE(close_forgets_and_closes) {
    auto pool = manager.get_or_create(config_for(path));
    BOOST_TEST(manager.close("./" + std::filesystem::relative(path).string()));
    BOOST_TEST(pool->closed());
    BOOST_TEST(manager.size() == 0u);
    BOOST_TEST(!manager.find(path));
    BOOST_TEST(!manager.close(path));
    auto again = manager.get_or_create(config_for(path)); // a new pool for the same file
    BOOST_TEST((again != pool));
    (void)manager.get_or_create(config_for(dir.file("b.db")));
    manager.close_all();
    BOOST_TEST(manager.size() == 0u);
    BOOST_TEST(again->closed());
}

BOOST_AUTO_TEST_CASE(failed_creation_is_not_remembered) {
    BOOST_CHECK_THROW((void)manager.get_or_create(config_for(dir.file("missing/dir/x.db"))),
                      sqlpool::sqlite_error);
    BOOST_TEST(manager.size() == 0u);
    auto invalid = config_for(path);
    invalid.max_connections = 0;
    BOOST_CHECK_THROW((void)manager.get_or_create(invalid), sqlpool::config_error);
    BOOST_TEST(manager.size() == 0u);
}

BOOST_AUTO_TEST_SUITE_END()
