// The database service's health judgement, behind the declarations of service_health.cppm.
module;
#include "detail/gmf.hpp"
module sqlpool;

namespace sqlpool::detail {
namespace {

// "3 connections" / "1 connection".
std::string count_of(std::uint64_t n, const char* noun) {
    return std::to_string(n) + " " + noun + (n == 1 ? "" : "s");
}

const char* since = " since the previous health report";

} // namespace

session_identity identity_at(const std::string& name) noexcept {
    struct stat st{};
    if (name.empty() || ::stat(name.c_str(), &st) != 0) return {};
    return {static_cast<std::uint64_t>(st.st_dev), static_cast<std::uint64_t>(st.st_ino)};
}

void assess_figures(health_report& report, const pool_stats& now, const pool_stats& before,
                    std::uint64_t wal_hard_limit) {
    using enum availability;
    if (now.suspended != 0) report.add(degraded, "suspended: new acquires wait for resume()");
    if (const auto failed = now.open_failures - before.open_failures; failed != 0) {
        if (now.total == 0)
            report.add(down, "no connection is open, and " + count_of(failed, "connection") +
                                 " failed to open" + since);
        else
            report.add(degraded, count_of(failed, "connection") + " failed to open" + since);
    }
    if (const auto failed = now.failed_health_checks - before.failed_health_checks; failed != 0)
        report.add(degraded, count_of(failed, "connection") + " failed a health check" + since);
    if (now.waiting != 0 && now.idle == 0 && now.total >= now.max_connections)
        report.add(degraded, "pool full: " + count_of(now.waiting, "thread") + " waiting for one of " +
                                 count_of(now.total, "connection"));
    if (const auto timeouts = now.timeouts - before.timeouts; timeouts != 0)
        report.add(degraded, count_of(timeouts, "acquire() call") + " timed out" + since);
    if (wal_hard_limit != 0 && now.wal.bytes > wal_hard_limit)
        report.add(degraded, "the WAL is " + std::to_string(now.wal.bytes) + " bytes, past wal_hard_limit (" +
                                 std::to_string(wal_hard_limit) + ")");
    if (const auto starved = now.wal.starved - before.wal.starved; starved != 0)
        report.add(degraded, "readers kept the WAL from resetting " + count_of(starved, "time") + since);
}

void assess_file(health_report& report, const watched_file& file, session_identity at_path) {
    if (!file.opened.known() || at_path == file.opened) return;
    if (!at_path.known())
        report.add(availability::down, "the database file '" + file.name +
                                           "' is gone from its path (deleted or renamed) since start");
    else
        report.add(availability::down, "the database file '" + file.name +
                                           "' was replaced since start: another file is at its path");
}

void health_monitor::started(watched_file file, const pool_stats& baseline) {
    const std::lock_guard lock(mutex_);
    file_ = std::move(file);
    before_ = baseline;
}

void health_monitor::stopped(const pool_stats& final) {
    const std::lock_guard lock(mutex_);
    final_ = final;
}

pool_stats health_monitor::final_stats() const {
    const std::lock_guard lock(mutex_);
    return final_;
}

assessment health_monitor::assess(service_state state,
                                  const std::function<std::optional<pool_stats>()>& figures,
                                  std::uint64_t wal_hard_limit) {
    assessment answer;
    const std::lock_guard lock(mutex_); // probes in turn, so that the baseline only moves forward
    const auto now = state == service_state::running ? figures() : std::nullopt;
    if (!now) {
        answer.report.add(
            availability::down,
            "the service is " +
                std::string(to_string(state == service_state::running ? service_state::stopped : state)));
        return answer;
    }
    assess_file(answer.report, file_, identity_at(file_.name));
    assess_figures(answer.report, *now, before_, wal_hard_limit);
    before_ = *now;
    answer.ready = answer.report.status != availability::down && now->suspended == 0;
    return answer;
}

bool health_monitor::live(service_state state) const {
    if (state != service_state::running) return true;
    const std::lock_guard lock(mutex_);
    return !file_.opened.known() || identity_at(file_.name) == file_.opened;
}

} // namespace sqlpool::detail
