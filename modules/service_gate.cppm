// The gate every call into the database service passes through (its lifecycle state is
// :component's service_state): calls get in only while the service runs, each holds a reference to the pool
// it uses, and stop() can wait for the calls already inside before it closes that pool.
module;
#include "detail/gmf.hpp"
export module sqlpool:service_gate;
import :errors;
import :pool; // detail::deadline_after
import :component;

namespace sqlpool::detail {

// The state, the running pool and the number of calls inside, under one mutex. Transitions are
// serialised: begin_start() and begin_stop() first wait for one under way to finish, so that two
// threads starting (or one starting, one stopping) never both build or tear down a pool.
template <class Pool>
class service_gate {
public:
    [[nodiscard]] service_state state() const {
        std::lock_guard lock(mutex_);
        return state_;
    }

    // The running pool, shared so that it outlives a stop(); state_error when not running.
    [[nodiscard]] std::shared_ptr<Pool> running_pool(std::string_view operation) const {
        std::lock_guard lock(mutex_);
        return running_locked(operation);
    }

    // The running pool, or nullptr when not running (for the answers given in every state).
    [[nodiscard]] std::shared_ptr<Pool> running_pool_or_null() const {
        std::lock_guard lock(mutex_);
        return state_ == service_state::running ? pool_ : nullptr;
    }

    // A call comes in (state_error when not running) and is counted until leave().
    [[nodiscard]] std::shared_ptr<Pool> enter(std::string_view operation) {
        std::lock_guard lock(mutex_);
        auto pool = running_locked(operation);
        ++in_flight_;
        return pool;
    }

    // Notified under the lock: once the count is 0, the gate's owner may be destroyed.
    void leave() noexcept {
        std::lock_guard lock(mutex_);
        if (--in_flight_ == 0) changed_.notify_all();
    }

    // True when the caller is to start the service (state is then starting); false when it runs.
    bool begin_start() {
        std::unique_lock lock(mutex_);
        settle(lock);
        if (state_ == service_state::running) return false;
        set(service_state::starting);
        return true;
    }

    // The started pool, or nullptr when the start failed.
    void end_start(std::shared_ptr<Pool> started) {
        std::lock_guard lock(mutex_);
        pool_ = std::move(started);
        set(pool_ != nullptr ? service_state::running : service_state::stopped);
    }

    // What begin_stop() hands over: the pool to close, and when stop()'s time is up.
    struct stopping {
        std::shared_ptr<Pool> pool; // nullptr: the service was not running
        std::chrono::steady_clock::time_point deadline;
    };

    // Refuses new calls, waits until the calls inside have left or `timeout` has passed (counted
    // from when this stop() got its turn), and hands over the pool for closing. Calls still inside
    // keep their own reference, so the pool stays alive for them: they meet pool_closed_error at
    // most.
    [[nodiscard]] stopping begin_stop(std::chrono::milliseconds timeout) {
        std::unique_lock lock(mutex_);
        settle(lock);
        const auto deadline = deadline_after(std::chrono::steady_clock::now(), timeout);
        if (state_ != service_state::running) return {nullptr, deadline};
        set(service_state::stopping);
        changed_.wait_until(lock, deadline, [this] { return in_flight_ == 0; });
        return {std::move(pool_), deadline};
    }

    void end_stop() {
        std::lock_guard lock(mutex_);
        set(service_state::stopped);
    }

    // For the owner's destructor: calls that outlived stop()'s drain still use the gate.
    void wait_for_calls() {
        std::unique_lock lock(mutex_);
        changed_.wait(lock, [this] { return in_flight_ == 0; });
    }

private:
    std::shared_ptr<Pool> running_locked(std::string_view operation) const {
        if (state_ != service_state::running)
            throw state_error("cannot " + std::string(operation) + ": the database service is " +
                              std::string(to_string(state_)) +
                              (state_ == service_state::created ? "; start() it first" : ""));
        return pool_;
    }

    void settle(std::unique_lock<std::mutex>& lock) {
        changed_.wait(
            lock, [this] { return state_ != service_state::starting && state_ != service_state::stopping; });
    }

    void set(service_state state) {
        state_ = state;
        changed_.notify_all();
    }

    mutable std::mutex mutex_;
    std::condition_variable changed_; // state changed, or the last call left
    service_state state_ = service_state::created;
    std::size_t in_flight_ = 0;
    std::shared_ptr<Pool> pool_;
};

// One call through the gate: the pool it may use, counted as inside until destroyed.
template <class Pool>
class service_call {
public:
    service_call(service_gate<Pool>& gate, std::string_view operation)
        : gate_(gate), pool_(gate.enter(operation)) {}
    service_call(const service_call&) = delete;
    service_call& operator=(const service_call&) = delete;
    service_call(service_call&&) = delete;
    service_call& operator=(service_call&&) = delete;
    ~service_call() { gate_.leave(); } // pool_ is released after: it may be the last reference

    [[nodiscard]] Pool& pool() const noexcept { return *pool_; }

private:
    service_gate<Pool>& gate_;
    std::shared_ptr<Pool> pool_;
};

} // namespace sqlpool::detail
