// host: a tiny registry of components (see :component) that starts them in dependency order,
// stops them in reverse, and answers health, liveness and readiness for all of them at once.
module;
#include "detail/gmf.hpp"
export module sqlpool:host;
import :errors;
import :component;

namespace sqlpool::detail {

// One component behind the host's uniform interface.
class hosted {
public:
    hosted() = default;
    hosted(const hosted&) = delete;
    hosted& operator=(const hosted&) = delete;
    hosted(hosted&&) = delete;
    hosted& operator=(hosted&&) = delete;
    virtual ~hosted() = default;
    virtual void start() = 0;
    virtual void stop() = 0;
    [[nodiscard]] virtual service_state state() const = 0;
    [[nodiscard]] virtual health_report health() = 0;
    [[nodiscard]] virtual bool live() = 0;
    [[nodiscard]] virtual bool ready() = 0;
};

template <component C>
class hosted_as final : public hosted {
public:
    explicit hosted_as(C& c) : c_(&c) {}
    void start() override { c_->start(); }
    void stop() override { (void)c_->stop(); }
    [[nodiscard]] service_state state() const override { return c_->state(); }
    [[nodiscard]] health_report health() override { return c_->health(); }
    [[nodiscard]] bool live() override { return static_cast<bool>(c_->live()); }
    [[nodiscard]] bool ready() override { return static_cast<bool>(c_->ready()); }

private:
    C* c_;
};

struct host_entry {
    std::string name;
    std::vector<std::string> needs;
    std::unique_ptr<hosted> component;
};

// The entries' start order (indices): each after everything it needs, otherwise in the order
// added. config_error naming every duplicate name, unknown dependency and cycle.
[[nodiscard]] std::vector<std::size_t> start_order(const std::vector<host_entry>& entries);

} // namespace sqlpool::detail

export namespace sqlpool {

// One component's answer within a host.
struct component_health {
    std::string name;
    service_state state = service_state::created;
    health_report report;
};

// Starts the components added to it in dependency order and stops them in reverse. The
// components are the caller's and must outlive the host; a host is itself a component, so hosts
// nest. Thread-safe: start() and stop() are serialised, and the probes (health(), live(), ready())
// answer from any thread meanwhile.
class host {
public:
    host() = default;
    host(const host&) = delete;
    host& operator=(const host&) = delete;
    host(host&&) = delete;
    host& operator=(host&&) = delete;
    // Stops what it started, in reverse order; a component's failure to stop is ignored here.
    ~host();

    // Registers `c` under `name`, to start after every component named in `needs`. The names are
    // checked when the order is needed (start_order(), start()); state_error once start() ran.
    template <component C>
    host& add(std::string name, C& c, std::vector<std::string> needs = {}) {
        const std::lock_guard lock(entries_mutex_);
        if (state_.load() != service_state::created)
            throw state_error("cannot add component '" + name + "': the host is " +
                              std::string(to_string(state_.load())) + "; add every component before start()");
        entries_.push_back({std::move(name), std::move(needs), std::make_unique<detail::hosted_as<C>>(c)});
        return *this;
    }

    // The names in the order start() starts them; config_error naming every duplicate name,
    // unknown dependency and dependency cycle.
    [[nodiscard]] std::vector<std::string> start_order() const;

    // Starts each component in start_order() (one running already is left running). When one
    // fails, stops those it started, in reverse, and throws start_error naming it, with the
    // component's exception nested. Running already: nothing to do.
    void start();

    // Stops every component, in reverse start order, each even when one before it threw; returns
    // what went wrong ("name: what"), empty when every one stopped cleanly.
    std::vector<std::string> stop();

    [[nodiscard]] service_state state() const noexcept { return state_.load(); }

    // The worst of the components' answers, each reason prefixed with its component's name
    // ("db: 2 acquire() calls timed out ..."); down when the host is not running.
    [[nodiscard]] health_report health();
    // Each component's own answer, in start order when that is valid, otherwise as added.
    [[nodiscard]] std::vector<component_health> health_by_component();
    // True while every component is live.
    [[nodiscard]] bool live();
    // True while the host runs and every component is ready.
    [[nodiscard]] bool ready();

private:
    [[nodiscard]] std::vector<detail::hosted*> ordered() const;
    void stop_started(std::vector<detail::hosted*>& started, std::vector<std::string>* problems);
    [[noreturn]] void fail_start(const detail::hosted* c, const char* why);
    [[nodiscard]] std::string name_of(const detail::hosted* c) const;

    mutable std::mutex entries_mutex_; // entries_; held by probes, never across a start() or stop()
    std::vector<detail::host_entry> entries_;
    std::mutex lifecycle_mutex_; // serialises start() and stop()
    std::vector<detail::hosted*> started_;
    std::atomic<service_state> state_{service_state::created};
};

static_assert(component<host>);

} // namespace sqlpool
