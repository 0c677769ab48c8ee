// slot_entry: one slot of a pool's table — its atomic state, who holds its lease, the metadata
// its holder published and its session's board — and what any thread may read of it.
module;
#include "detail/gmf.hpp"
export module sqlpool:slot_entry;
import :connection_info;
import :session_board;

namespace sqlpool::detail {

// vacant: free capacity. opening: reserved by a thread that opens (or replaces) a connection in
// it. idle: a connection anyone may claim. leased: a connection in exclusive use (by a lease, or
// by the pool while it checks, retires or closes it).
enum class slot_state : std::uint8_t { vacant, opening, idle, leased };

// The connection_info its holder last published, for any thread to read (connections()). Relaxed:
// the figures of one moment may mix with the next. Times are ns since the pool clock's epoch.
struct published_info {
    std::atomic<std::uint64_t> id{0};
    std::atomic<std::int64_t> created{0};
    std::atomic<std::int64_t> last_used{0};
    std::atomic<std::int64_t> last_checked{0};
    std::atomic<std::uint64_t> uses{0};
    std::atomic<health_status> health{health_status::unknown};
    std::atomic<int> last_error{0};
    std::atomic<double> age_jitter{0.0};
    std::atomic<std::uint64_t> device{0};
    std::atomic<std::uint64_t> inode{0};
};

template <class TimePoint>
std::int64_t ticks(TimePoint t) noexcept {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

// One slot, on its own cache line so that threads claiming neighbours do not contend.
template <class Slot>
struct alignas(64) slot_entry {
    std::atomic<slot_state> state{slot_state::vacant};
    std::size_t index = 0; // its place in the table, set when its chunk is made
    // Leases handed out from this slot; written only by the thread that holds the slot.
    std::atomic<std::uint64_t> leases{0};
    std::unique_ptr<Slot> held; // set while opening (once opened), idle or leased; touched only by the holder
    // Who holds its lease: written by the acquiring thread, read by anyone (relaxed: a reader sees
    // a recent holder). No thread while the slot is not leased out.
    std::atomic<std::thread::id> holder;
    std::atomic<std::source_location> where;
    std::atomic<std::int64_t> since{0};           // the pool clock's time since its epoch, in ns
    std::atomic<std::int64_t> reported_since{-1}; // `since` of the last lease reported as long held
    published_info info;
    session_board board; // attached to each session opened into the slot

    // The holder of the slot counts a lease handed out from it.
    void count_lease() noexcept {
        leases.store(leases.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    }
    // The holder of its new lease: this thread, at `where`, from `now`.
    template <class TimePoint>
    void record_holder(std::source_location at, TimePoint now) noexcept {
        holder.store(std::this_thread::get_id(), std::memory_order_relaxed);
        where.store(at, std::memory_order_relaxed);
        since.store(ticks(now), std::memory_order_relaxed);
    }
    void clear_holder() noexcept { holder.store(std::thread::id{}, std::memory_order_relaxed); }

    // The holder publishes its connection's metadata: all of it, or what a return changes.
    void publish(const connection_info& from) noexcept {
        info.id.store(from.id, std::memory_order_relaxed);
        info.created.store(ticks(from.created_at), std::memory_order_relaxed);
        info.last_error.store(from.last_error, std::memory_order_relaxed);
        info.age_jitter.store(from.age_jitter, std::memory_order_relaxed);
        info.device.store(from.file_device, std::memory_order_relaxed);
        info.inode.store(from.file_inode, std::memory_order_relaxed);
        publish_use(from);
    }
    void publish_use(const connection_info& from) noexcept {
        info.last_used.store(ticks(from.last_used_at), std::memory_order_relaxed);
        info.last_checked.store(ticks(from.last_checked_at), std::memory_order_relaxed);
        info.uses.store(from.use_count, std::memory_order_relaxed);
        info.health.store(from.health, std::memory_order_relaxed);
    }

    // Who holds its lease as of `now`, and since when (ns); nothing when no caller does.
    template <class TimePoint>
    [[nodiscard]] std::optional<lease_holder> holder_at(TimePoint now, std::int64_t& started) const {
        const std::thread::id thread = holder.load(std::memory_order_relaxed);
        if (thread == std::thread::id{}) return std::nullopt;
        started = since.load(std::memory_order_relaxed);
        const std::chrono::nanoseconds held_for(ticks(now) - started);
        return lease_holder{thread, where.load(std::memory_order_relaxed),
                            std::max(held_for, std::chrono::nanoseconds::zero())};
    }
    template <class TimePoint>
    [[nodiscard]] std::optional<lease_holder> holder_at(TimePoint now) const {
        std::int64_t started = 0;
        return holder_at(now, started);
    }

    // What connections() shows of it as of `now`; nothing when it is vacant.
    template <class TimePoint>
    [[nodiscard]] std::optional<connection_snapshot> snapshot(std::size_t slot, TimePoint now) const {
        const slot_state seen = state.load(std::memory_order_acquire);
        if (seen == slot_state::vacant) return std::nullopt;
        connection_snapshot c{.slot = slot, .use = connection_use::opening};
        if (seen == slot_state::opening) return c;
        c.info = published();
        c.holder = seen == slot_state::leased ? holder_at(now) : std::nullopt;
        if (seen == slot_state::idle)
            c.use = connection_use::idle;
        else
            c.use = c.holder ? connection_use::leased : connection_use::tended;
        c.sql = board.shown();
        return c;
    }

private:
    [[nodiscard]] connection_info published() const noexcept {
        const auto at = [](const std::atomic<std::int64_t>& ns) {
            return connection_info::time_point(
                std::chrono::duration_cast<connection_info::time_point::duration>(
                    std::chrono::nanoseconds(ns.load(std::memory_order_relaxed))));
        };
        return {.id = info.id.load(std::memory_order_relaxed),
                .created_at = at(info.created),
                .last_used_at = at(info.last_used),
                .last_checked_at = at(info.last_checked),
                .use_count = info.uses.load(std::memory_order_relaxed),
                .health = info.health.load(std::memory_order_relaxed),
                .last_error = info.last_error.load(std::memory_order_relaxed),
                .age_jitter = info.age_jitter.load(std::memory_order_relaxed),
                .file_device = info.device.load(std::memory_order_relaxed),
                .file_inode = info.inode.load(std::memory_order_relaxed)};
    }
};

} // namespace sqlpool::detail
