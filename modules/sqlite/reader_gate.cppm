// reader_gate: the "reader gap" a WAL checkpoint needs. While the gate is held, pooled connections
// to one database file start no new transaction, so that the readers already in the WAL finish
// and a RESTART/TRUNCATE checkpoint can reset it; SQLite's documentation asks for such gaps
// (https://sqlite.org/wal.html#avoiding_excessively_large_wal_files). A hold always ends by
// itself after its limit, so nobody waits on a checkpointer that stalls.
module;
#include "../detail/gmf.hpp"
export module sqlpool:reader_gate;

namespace sqlpool::detail {

class reader_gate {
public:
    // One load: what a connection checks before each statement it starts.
    [[nodiscard]] bool held() const noexcept { return held_.load(std::memory_order_acquire); }

    // Holds new transactions until release(), at most `limit` from now.
    void hold(std::chrono::steady_clock::duration limit) {
        const std::lock_guard lock(mutex_);
        until_ = std::chrono::steady_clock::now() + limit;
        held_.store(true, std::memory_order_release);
    }

    void release() noexcept {
        {
            const std::lock_guard lock(mutex_);
            held_.store(false, std::memory_order_release);
        }
        opened_.notify_all();
    }

    // Waits while the gate is held, at most until the hold's limit.
    void wait() const {
        std::unique_lock lock(mutex_);
        while (held_.load(std::memory_order_acquire) && std::chrono::steady_clock::now() < until_)
            opened_.wait_until(lock, until_);
    }

private:
    std::atomic<bool> held_{false};
    mutable std::mutex mutex_;
    mutable std::condition_variable opened_;
    std::chrono::steady_clock::time_point until_; // under mutex_
};

// The gate of the database file at `path`, shared by every pool of the process on that file (a
// read_write_pool's readers and writer among them): the checkpointer of the writing pool holds it
// for all of them.
inline std::shared_ptr<reader_gate> gate_for(const std::string& path) {
    static std::mutex mutex;
    static std::map<std::string, std::weak_ptr<reader_gate>> gates;
    std::string key = path;
    if (!path.starts_with("file:")) {
        std::error_code ec;
        const auto canonical = std::filesystem::weakly_canonical(path, ec);
        if (!ec) key = canonical.string();
    }
    key = std::to_string(::getpid()) + ":" + key; // a forked child's pools hold gates of their own
    const std::lock_guard lock(mutex);
    std::erase_if(gates, [](const auto& entry) { return entry.second.expired(); });
    auto& slot = gates[key];
    std::shared_ptr<reader_gate> gate = slot.lock();
    if (!gate) {
        gate = std::make_shared<reader_gate>();
        slot = gate;
    }
    return gate;
}

} // namespace sqlpool::detail
