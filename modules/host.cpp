// host: the start order, start(), stop() and the probes, behind the declarations of host.cppm.
module;
#include "detail/gmf.hpp"
module sqlpool;

namespace sqlpool::detail {
namespace {

using index_of_name = std::map<std::string, std::size_t, std::less<>>;

index_of_name name_indices(const std::vector<host_entry>& entries, std::vector<std::string>& problems) {
    index_of_name indices;
    for (std::size_t i = 0; i < entries.size(); ++i) {
        if (entries[i].name.empty())
            problems.push_back("component #" + std::to_string(i + 1) + " has no name");
        if (!indices.emplace(entries[i].name, i).second)
            problems.push_back("component name '" + entries[i].name + "' is added twice");
    }
    for (const auto& entry : entries)
        for (const auto& need : entry.needs)
            if (!indices.contains(need))
                problems.push_back("component '" + entry.name + "' needs '" + need + "', which is not added");
    return indices;
}

// The dependency indices of each entry (unknown names left out: reported already).
std::vector<std::vector<std::size_t>> needs_of(const std::vector<host_entry>& entries,
                                               const index_of_name& indices) {
    std::vector<std::vector<std::size_t>> needs(entries.size());
    for (std::size_t i = 0; i < entries.size(); ++i)
        for (const auto& need : entries[i].needs)
            if (const auto it = indices.find(need); it != indices.end()) needs[i].push_back(it->second);
    return needs;
}

// From `from`, which waits on an unplaced dependency, follows unplaced dependencies until one
// repeats: the cycle, as "a -> b -> a"; marks its members placed so that the search goes on.
std::string take_cycle(const std::vector<host_entry>& entries,
                       const std::vector<std::vector<std::size_t>>& needs, std::vector<bool>& placed,
                       std::size_t from) {
    std::vector<std::size_t> path{from};
    for (;;) {
        const auto& waits = needs[path.back()];
        const auto next = *std::ranges::find_if(waits, [&](std::size_t n) { return !placed[n]; });
        if (const auto seen = std::ranges::find(path, next); seen != path.end()) {
            std::string text = "dependency cycle: ";
            for (auto it = seen; it != path.end(); ++it) {
                text += entries[*it].name + " -> ";
                placed[*it] = true;
            }
            return text + entries[next].name;
        }
        path.push_back(next);
    }
}

} // namespace

std::vector<std::size_t> start_order(const std::vector<host_entry>& entries) {
    std::vector<std::string> problems;
    const auto needs = needs_of(entries, name_indices(entries, problems));
    std::vector<std::size_t> order;
    std::vector<bool> placed(entries.size(), false);
    auto can_start = [&](std::size_t i) {
        return std::ranges::all_of(needs[i], [&](std::size_t n) { return placed[n]; });
    };
    while (std::cmp_less(std::ranges::count(placed, true), entries.size())) {
        bool progress = false;
        for (std::size_t i = 0; i < entries.size(); ++i)
            if (!placed[i] && can_start(i)) {
                placed[i] = true;
                order.push_back(i);
                progress = true;
                break; // the earliest added of those ready goes first
            }
        if (progress) continue;
        const auto stuck = static_cast<std::size_t>(std::ranges::find(placed, false) - placed.begin());
        problems.push_back(take_cycle(entries, needs, placed, stuck));
    }
    if (!problems.empty()) throw config_error(std::move(problems));
    return order;
}

} // namespace sqlpool::detail

namespace sqlpool {

host::~host() {
    try {
        (void)stop();
    } catch (...) {
        // Deliberately ignored: a destructor must not throw, and stop() reports rather than throws.
    }
}

std::vector<detail::hosted*> host::ordered() const {
    const std::lock_guard lock(entries_mutex_);
    std::vector<detail::hosted*> components;
    for (const std::size_t i : detail::start_order(entries_))
        components.push_back(entries_[i].component.get());
    return components;
}

std::vector<std::string> host::start_order() const {
    const std::lock_guard lock(entries_mutex_);
    std::vector<std::string> names;
    for (const std::size_t i : detail::start_order(entries_)) names.push_back(entries_[i].name);
    return names;
}

void host::start() {
    const std::lock_guard lifecycle(lifecycle_mutex_);
    if (state_.load() == service_state::running) return;
    const auto components = ordered(); // config_error before anything starts
    state_.store(service_state::starting);
    started_.clear();
    for (detail::hosted* c : components) {
        try {
            c->start();
        } catch (const std::exception& e) {
            fail_start(c, e.what());
        } catch (...) {
            fail_start(c, "an exception of unknown type");
        }
        started_.push_back(c);
    }
    state_.store(service_state::running);
}

// Inside start()'s handler for `c`'s exception: stops what started, then throws start_error.
void host::fail_start(const detail::hosted* c, const char* why) {
    const std::string name = name_of(c);
    stop_started(started_, nullptr);
    state_.store(service_state::stopped);
    std::throw_with_nested(start_error(name, why));
}

std::vector<std::string> host::stop() {
    const std::lock_guard lifecycle(lifecycle_mutex_);
    std::vector<std::string> problems;
    if (state_.load() != service_state::running) return problems;
    state_.store(service_state::stopping);
    stop_started(started_, &problems);
    state_.store(service_state::stopped);
    return problems;
}

// Stops `started` in reverse and empties it; each failure goes to `problems` when given.
void host::stop_started(std::vector<detail::hosted*>& started, std::vector<std::string>* problems) {
    for (detail::hosted* c : std::views::reverse(started)) {
        try {
            c->stop();
        } catch (const std::exception& e) {
            if (problems != nullptr) problems->push_back(name_of(c) + ": " + e.what());
        } catch (...) {
            if (problems != nullptr) problems->push_back(name_of(c) + ": an exception of unknown type");
        }
    }
    started.clear();
}

std::string host::name_of(const detail::hosted* c) const {
    const std::lock_guard lock(entries_mutex_);
    for (const auto& entry : entries_)
        if (entry.component.get() == c) return entry.name;
    return "?";
}

std::vector<component_health> host::health_by_component() {
    const std::lock_guard lock(entries_mutex_);
    std::vector<std::size_t> order;
    try {
        order = detail::start_order(entries_);
    } catch (const config_error&) {
        for (std::size_t i = 0; i < entries_.size(); ++i) order.push_back(i);
    }
    std::vector<component_health> answers;
    for (const std::size_t i : order) {
        auto& c = *entries_[i].component;
        answers.push_back({entries_[i].name, c.state(), c.health()});
    }
    return answers;
}

health_report host::health() {
    health_report overall;
    if (const auto now = state(); now != service_state::running)
        overall.add(availability::down, "the host is " + std::string(to_string(now)));
    for (auto& [name, state, report] : health_by_component()) {
        if (report.status != availability::up && report.reasons.empty())
            overall.add(report.status, name + ": " + to_string(report.status));
        for (const auto& reason : report.reasons) {
            std::string line = name;
            line.append(": ").append(reason);
            overall.add(report.status, std::move(line));
        }
    }
    return overall;
}

bool host::live() {
    const std::lock_guard lock(entries_mutex_);
    return std::ranges::all_of(entries_, [](const detail::host_entry& e) { return e.component->live(); });
}

bool host::ready() {
    if (state() != service_state::running) return false;
    const std::lock_guard lock(entries_mutex_);
    return std::ranges::all_of(entries_, [](const detail::host_entry& e) { return e.component->ready(); });
}

} // namespace sqlpool
