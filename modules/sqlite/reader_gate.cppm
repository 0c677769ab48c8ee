// reader_gate: the "reader gap" a WAL checkpoint needs. While the gate is held, pooled connections
// to one database file start no new transaction, so that the readers already in the WAL finish
// and a RESTART/TRUNCATE checkpoint can reset it; SQLite's documentation asks for such gaps
// (https://sqlite.org/wal.html#avoiding_excessively_large_wal_files). A hold always ends by
// itself after its limit, so nobody waits on a checkpointer that stalls.
module;
#include "../detail/gmf.hpp"
export module sqlpool:reader_gate;

namespace sqlpool::detail {

// Besides the gap, the gate carries the read-transaction cap: once checkpoints at the hard size
// have failed for pool_config::read_transaction_limit, read transactions on the file's pooled
// connections are interrupted until a checkpoint resets the WAL.
class reader_gate {
public:
    // One load: what a connection checks before each statement it starts (false: neither held
    // nor capped).
    [[nodiscard]] bool active() const noexcept { return state_.load(std::memory_order_acquire) != 0; }
    [[nodiscard]] bool held() const noexcept {
        return (state_.load(std::memory_order_acquire) & held_bit) != 0;
    }
    [[nodiscard]] bool capped() const noexcept {
        return (state_.load(std::memory_order_relaxed) & capped_bit) != 0;
    }

    // Holds new transactions until release(), at most `limit` from now.
    void hold(std::chrono::steady_clock::duration limit) {
        const std::lock_guard lock(mutex_);
        until_ = std::chrono::steady_clock::now() + limit;
        state_.fetch_or(held_bit, std::memory_order_release);
    }

    void release() noexcept {
        {
            const std::lock_guard lock(mutex_);
            state_.fetch_and(static_cast<std::uint8_t>(~held_bit), std::memory_order_release);
        }
        opened_.notify_all();
    }

    // Read transactions are interrupted (true) or left alone again (false).
    void cap(bool on) noexcept {
        if (on)
            state_.fetch_or(capped_bit, std::memory_order_release);
        else
            state_.fetch_and(static_cast<std::uint8_t>(~capped_bit), std::memory_order_release);
    }

    // Waits while the gate is held, at most until the hold's limit.
    void wait() const {
        std::unique_lock lock(mutex_);
        while (held() && std::chrono::steady_clock::now() < until_) opened_.wait_until(lock, until_);
    }

private:
    static constexpr std::uint8_t held_bit = 1;
    static constexpr std::uint8_t capped_bit = 2;
    std::atomic<std::uint8_t> state_{0};
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
