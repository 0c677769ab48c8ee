// An application host with the database service and one component that depends on it: a worker
// that records a heartbeat row every few milliseconds. The host starts the database first and
// stops it last; its probes answer as an orchestrator's liveness and readiness checks would ask.
// Built and run as a test (docs/tutorial.md, "Living inside an application host").
#include <atomic>
#include <chrono>
#include <cstdint>
#include <exception>
#include <filesystem>
#include <iostream>
#include <stop_token>
#include <string>
#include <thread>

import sqlpool;

using namespace std::chrono_literals;

namespace {

// A component of the application's own: start() launches a thread that writes through the
// database service, stop() ends it; health() is degraded while its last write failed.
class heartbeat {
public:
    explicit heartbeat(sqlpool::database& db) : db_(db) {}

    void start() {
        if (state_ == sqlpool::service_state::running) return;
        worker_ = std::jthread([this](const std::stop_token& stop) { run(stop); });
        state_ = sqlpool::service_state::running;
    }
    void stop() {
        worker_ = {}; // asks the thread to stop and joins it
        state_ = sqlpool::service_state::stopped;
    }
    [[nodiscard]] sqlpool::service_state state() const { return state_.load(); }
    [[nodiscard]] sqlpool::health_report health() {
        sqlpool::health_report report;
        if (state_ != sqlpool::service_state::running) report.add(sqlpool::availability::down, "not running");
        if (failing_) report.add(sqlpool::availability::degraded, "the last heartbeat could not be written");
        return report;
    }
    [[nodiscard]] bool live() const { return true; }
    [[nodiscard]] bool ready() const { return state_ == sqlpool::service_state::running; }
    [[nodiscard]] std::int64_t beats() const { return beats_.load(); }

private:
    void run(const std::stop_token& stop) {
        while (!stop.stop_requested()) {
            try {
                db_.exec("INSERT INTO heartbeat(at) VALUES(julianday('now'))");
                ++beats_;
                failing_ = false;
            } catch (const sqlpool::error& e) {
                if (!failing_.exchange(true)) std::cerr << "heartbeat: " << e.what() << '\n';
            }
            std::this_thread::sleep_for(2ms);
        }
    }

    sqlpool::database& db_;
    std::atomic<sqlpool::service_state> state_{sqlpool::service_state::created};
    std::atomic<bool> failing_{false};
    std::atomic<std::int64_t> beats_{0};
    std::jthread worker_;
};

// What a probe endpoint would print.
void probe(sqlpool::host& host, const char* when) {
    std::cout << when << ": live=" << host.live() << " ready=" << host.ready() << " health=\""
              << host.health().to_string() << "\"\n";
}

} // namespace

int main() try {
    const auto path = (std::filesystem::temp_directory_path() / "sqlpool-host.db").string();
    std::filesystem::remove(path);
    sqlpool::database db{{
        .pool = {.database = path, .max_connections = 4},
        .schema = {.migrations = {{1, "heartbeats", "CREATE TABLE heartbeat(at REAL NOT NULL)"}}},
    }};
    heartbeat beat{db};

    sqlpool::host host;
    host.add("heartbeat", beat, {"db"}).add("db", db); // the order of add() does not matter
    probe(host, "before start");
    host.start(); // db (created, migrated), then heartbeat
    for (int i = 0; i < 10'000 && beat.beats() < 10; ++i) std::this_thread::sleep_for(1ms);
    probe(host, "running");
    const bool ready_while_running = host.ready() && host.live();
    for (const auto& [name, state, report] : host.health_by_component())
        std::cout << "  " << name << ": " << sqlpool::to_string(state) << ", " << report.to_string() << '\n';

    const auto problems = host.stop(); // heartbeat first: its last write still finds the database running
    probe(host, "after stop");
    db.start(); // to count what the heartbeat wrote
    const auto rows = db.query<std::int64_t>("SELECT count(*) FROM heartbeat");
    const auto written = std::get<0>(rows.at(0));
    std::cout << "heartbeats written " << written << ", counted " << beat.beats() << '\n';
    db.stop();
    return ready_while_running && problems.empty() && written >= 10 && written == beat.beats() ? 0 : 1;
} catch (const std::exception& e) {
    std::cerr << "host: " << e.what() << '\n';
    return 1;
}
