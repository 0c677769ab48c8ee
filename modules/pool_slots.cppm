// pool_slots: a pool's connections in a fixed table of max_connections slots, each with an atomic
// state. A thread claims an idle slot with one compare-and-swap, trying the slot it returned last
// first (HikariCP's ConcurrentBag does the same), and returns it with one store; the pool's lock
// is only taken when threads wait, capacity changes or the pool closes.
module;
#include "detail/gmf.hpp"
export module sqlpool:pool_slots;
import :queue;
import :stats;

namespace sqlpool::detail {

// vacant: free capacity. opening: reserved by a thread that opens (or replaces) a connection in
// it. idle: a connection anyone may claim. leased: a connection in exclusive use (by a lease, or
// by the pool while it checks, retires or closes it).
enum class slot_state : std::uint8_t { vacant, opening, idle, leased };

// One slot, on its own cache line so that threads claiming neighbours do not contend.
template <class Slot>
struct alignas(64) slot_entry {
    std::atomic<slot_state> state{slot_state::vacant};
    // Leases handed out from this slot; written only by the thread that holds the slot.
    std::atomic<std::uint64_t> leases{0};
    std::unique_ptr<Slot> held; // set while opening (once opened), idle or leased; touched only by the holder
    // Who holds its lease: written by the acquiring thread, read by anyone (relaxed: a reader sees
    // a recent holder). No thread while the slot is not leased out.
    std::atomic<std::thread::id> holder{};
    std::atomic<std::source_location> where{};
    std::atomic<std::int64_t> since{0};           // the pool clock's time since its epoch, in ns
    std::atomic<std::int64_t> reported_since{-1}; // `since` of the last lease reported as long held
};

struct slot_counts {
    std::size_t total = 0;  // not vacant
    std::size_t idle = 0;   // idle
    std::size_t in_use = 0; // opening or leased
};

// The table. Whoever moves a slot out of `idle` or `vacant` holds it until it stores `idle` or
// `vacant` again; only the holder touches the slot's connection. Slot is the pool's basic_slot
// (its `index` is set here).
template <class Queue, class Slot>
class pool_slots {
public:
    using slot_ptr = std::unique_ptr<Slot>;
    using entry = slot_entry<Slot>;

    static constexpr std::size_t none = static_cast<std::size_t>(-1);

    explicit pool_slots(std::size_t capacity)
        : entries_(std::make_unique<entry[]>(capacity)), capacity_(capacity) {}

    [[nodiscard]] std::size_t capacity() const noexcept { return capacity_; }
    [[nodiscard]] entry& at(std::size_t i) noexcept { return entries_[i]; }

    // Claims an idle slot: under LIFO reuse the one this thread returned last, else the first idle
    // one (so the last ones age out); under FIFO reuse the next one in turn. `none` when none is idle.
    [[nodiscard]] std::size_t claim_idle() noexcept {
        if constexpr (Queue::reuse == reuse_order::lifo) {
            const thread_hint& hint = last_returned;
            // The index is checked too: another pool's table may since live at the same address.
            if (hint.table == this && hint.index < capacity_ && try_claim(hint.index)) return hint.index;
            return claim_from(0);
        } else {
            const std::size_t start = cursor_.load(std::memory_order_relaxed);
            const std::size_t got = claim_from(start < capacity_ ? start : 0);
            if (got != none) cursor_.store(got + 1 == capacity_ ? 0 : got + 1, std::memory_order_relaxed);
            return got;
        }
    }
    [[nodiscard]] bool try_claim(std::size_t i) noexcept {
        return move_state(i, slot_state::idle, slot_state::leased);
    }

    // Reserves a vacant slot for a connection about to open; `none` when the pool is full.
    [[nodiscard]] std::size_t reserve() noexcept {
        for (std::size_t i = 0; i < capacity_; ++i)
            if (move_state(i, slot_state::vacant, slot_state::opening)) return i;
        return none;
    }

    // The holder of a reserved slot puts its new connection in it (still held).
    Slot& install(std::size_t i, slot_ptr s) noexcept {
        s->index = i;
        entries_[i].held = std::move(s);
        entries_[i].state.store(slot_state::leased, std::memory_order_relaxed);
        return *entries_[i].held;
    }
    // The holder makes its slot idle: anyone may claim it from now on.
    void make_idle(std::size_t i) noexcept {
        last_returned = {this, i};
        entries_[i].state.store(slot_state::idle, std::memory_order_seq_cst);
    }
    // The holder empties its slot: the connection is returned (to be closed by the caller), and
    // the capacity is free.
    slot_ptr vacate(std::size_t i) noexcept {
        slot_ptr s = std::move(entries_[i].held);
        entries_[i].state.store(slot_state::vacant, std::memory_order_seq_cst);
        return s;
    }
    // The holder of a slot counts a lease handed out from it.
    void count_lease(std::size_t i) noexcept {
        std::atomic<std::uint64_t>& leases = entries_[i].leases;
        leases.store(leases.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    }

    // A snapshot, one slot at a time: exact when nothing moves meanwhile.
    [[nodiscard]] slot_counts counts() const noexcept {
        slot_counts c;
        for (std::size_t i = 0; i < capacity_; ++i) {
            const slot_state state = entries_[i].state.load(std::memory_order_acquire);
            if (state == slot_state::vacant) continue;
            ++c.total;
            ++(state == slot_state::idle ? c.idle : c.in_use);
        }
        return c;
    }
    // True when a slot is idle or vacant: a waiter could take or open one.
    [[nodiscard]] bool any_available() const noexcept {
        for (std::size_t i = 0; i < capacity_; ++i) {
            const slot_state state = entries_[i].state.load(std::memory_order_seq_cst);
            if (state == slot_state::idle || state == slot_state::vacant) return true;
        }
        return false;
    }
    // The holder of slot `i`'s new lease: this thread, at `where`, from `now`.
    template <class TimePoint>
    void record_holder(std::size_t i, std::source_location where, TimePoint now) noexcept {
        entry& e = entries_[i];
        e.holder.store(std::this_thread::get_id(), std::memory_order_relaxed);
        e.where.store(where, std::memory_order_relaxed);
        e.since.store(std::chrono::duration_cast<std::chrono::nanoseconds>(now.time_since_epoch()).count(),
                      std::memory_order_relaxed);
    }
    void clear_holder(std::size_t i) noexcept {
        entries_[i].holder.store(std::thread::id{}, std::memory_order_relaxed);
    }
    // Where this thread acquired a lease it still holds, if it holds one.
    [[nodiscard]] std::optional<std::source_location> held_here() const noexcept {
        const auto me = std::this_thread::get_id();
        for (std::size_t i = 0; i < capacity_; ++i)
            if (entries_[i].holder.load(std::memory_order_relaxed) == me &&
                entries_[i].state.load(std::memory_order_acquire) == slot_state::leased)
                return entries_[i].where.load(std::memory_order_relaxed);
        return std::nullopt;
    }
    // True when every slot holds a connection leased out by a thread for which `waiting` holds:
    // nothing is vacant, idle, opening, or held by the pool itself.
    template <class Predicate>
    [[nodiscard]] bool all_held_by(Predicate waiting) const {
        for (std::size_t i = 0; i < capacity_; ++i) {
            const entry& e = entries_[i];
            if (e.state.load(std::memory_order_acquire) != slot_state::leased) return false;
            const std::thread::id thread = e.holder.load(std::memory_order_relaxed);
            if (thread == std::thread::id{} || !waiting(thread)) return false;
        }
        return true;
    }
    // The leases out, longest held first, as of `now`.
    template <class TimePoint>
    [[nodiscard]] std::vector<lease_holder> holders(TimePoint now) const {
        std::vector<lease_holder> out;
        for (std::size_t i = 0; i < capacity_; ++i)
            if (const auto held = holder_of(entries_[i], now)) out.push_back(*held);
        std::ranges::sort(out, std::ranges::greater{}, &lease_holder::held_for);
        return out;
    }
    // The leases held for `after` or longer as of `now` that were not reported yet: each lease is
    // reported once, even to two callers at once (its slot remembers the start of the last one it
    // reported). A lease taken meanwhile may mix with the one it replaced: a report, not a fact.
    template <class TimePoint>
    [[nodiscard]] std::vector<lease_holder> unreported_long_leases(TimePoint now,
                                                                   std::chrono::nanoseconds after) {
        std::vector<lease_holder> out;
        for (std::size_t i = 0; i < capacity_; ++i) {
            entry& e = entries_[i];
            const std::optional<lease_holder> held = holder_of(e, now);
            if (!held || held->held_for < after) continue;
            const std::int64_t since = e.since.load(std::memory_order_relaxed);
            if (e.reported_since.exchange(since, std::memory_order_relaxed) != since) out.push_back(*held);
        }
        return out;
    }
    [[nodiscard]] std::uint64_t leases() const noexcept {
        std::uint64_t sum = 0;
        for (std::size_t i = 0; i < capacity_; ++i) sum += entries_[i].leases.load(std::memory_order_relaxed);
        return sum;
    }

private:
    template <class TimePoint>
    static std::optional<lease_holder> holder_of(const entry& e, TimePoint now) {
        const std::thread::id thread = e.holder.load(std::memory_order_relaxed);
        if (thread == std::thread::id{}) return std::nullopt;
        const std::chrono::nanoseconds since(e.since.load(std::memory_order_relaxed));
        const auto now_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(now.time_since_epoch());
        return lease_holder{thread, e.where.load(std::memory_order_relaxed),
                            std::max(now_ns - since, since.zero())};
    }

    // The slot a thread returned last, per pool type: a hint only, checked against the table.
    struct thread_hint {
        const pool_slots* table = nullptr;
        std::size_t index = 0;
    };
    static inline thread_local thread_hint last_returned{};

    std::size_t claim_from(std::size_t start) noexcept {
        for (std::size_t n = 0, i = start; n < capacity_; ++n, i = i + 1 == capacity_ ? 0 : i + 1)
            if (try_claim(i)) return i;
        return none;
    }
    // seq_cst: see waiter_queue::waiting(). The plain load first spares a locked instruction on a
    // slot that is not in the state wanted (and a seq_cst load costs no more than a relaxed one on
    // x86 and ARMv8).
    bool move_state(std::size_t i, slot_state from, slot_state to) noexcept {
        std::atomic<slot_state>& state = entries_[i].state;
        return state.load(std::memory_order_seq_cst) == from &&
               state.compare_exchange_strong(from, to, std::memory_order_seq_cst);
    }

    std::unique_ptr<entry[]> entries_;
    std::size_t capacity_;
    std::atomic<std::size_t> cursor_{0}; // FIFO reuse: where the next claim starts
};

} // namespace sqlpool::detail
