// pool_slots: a pool's connections in a table of slots (see :slot_entry), each with an atomic
// state. A thread claims an idle slot with one compare-and-swap, trying the slot it returned last
// first (HikariCP's ConcurrentBag does the same), and returns it with one store; the pool's lock
// is only taken when threads wait, capacity changes or the pool closes. The table grows in chunks
// that never move, so a slot's address is stable for the pool's life; `limit` slots are in use
// (max_connections, which resize() changes).
module;
#include "detail/gmf.hpp"
export module sqlpool:pool_slots;
import :queue;
import :connection_info;
import :slot_entry;

namespace sqlpool::detail {

struct slot_counts {
    std::size_t total = 0;  // not vacant
    std::size_t idle = 0;   // idle
    std::size_t in_use = 0; // opening or leased
};

// The table. Whoever moves a slot out of `idle` or `vacant` holds it until it stores `idle` or
// `vacant` again; only the holder touches the slot's connection. Slot is the pool's basic_slot
// (its `index` is set here). Growing and changing the limit happen under the pool's lock.
template <class Queue, class Slot>
class pool_slots {
public:
    using slot_ptr = std::unique_ptr<Slot>;
    using entry = slot_entry<Slot>;

    static constexpr std::size_t none = static_cast<std::size_t>(-1);
    static constexpr std::size_t chunk_bits = 6; // 64 slots a chunk
    static constexpr std::size_t chunk_size = std::size_t{1} << chunk_bits;

    // `ceiling`: the most slots it may ever grow to (pool_config::max_pool_size).
    pool_slots(std::size_t limit, std::size_t ceiling)
        : chunks_(std::make_unique<std::unique_ptr<entry[]>[]>((ceiling + chunk_size - 1) >> chunk_bits)) {
        set_limit(limit);
    }

    [[nodiscard]] std::size_t capacity() const noexcept { return capacity_.load(std::memory_order_acquire); }
    // Acquire: a thread that sees a limit raised by set_limit() then reads the chunks grow() made.
    [[nodiscard]] std::size_t limit() const noexcept { return limit_.load(std::memory_order_acquire); }
    [[nodiscard]] entry& at(std::size_t i) noexcept { return chunks_[i >> chunk_bits][i & (chunk_size - 1)]; }
    [[nodiscard]] const entry& at(std::size_t i) const noexcept {
        return chunks_[i >> chunk_bits][i & (chunk_size - 1)];
    }

    // Under the pool's lock: `limit` slots are in use from now on (the table grows when needed).
    void set_limit(std::size_t limit) {
        grow(limit);
        limit_.store(limit, std::memory_order_seq_cst);
    }

    // Claims an idle slot: under LIFO reuse the one this thread returned last, else the first idle
    // one (so the last ones age out); under FIFO reuse the next one in turn. Null when none is idle.
    [[nodiscard]] entry* claim_idle() noexcept {
        const std::size_t n = limit();
        if constexpr (Queue::reuse == reuse_order::lifo) {
            const thread_hint& hint = last_returned;
            // The table's id is checked, not its address: another pool's table may since live there.
            if (hint.table == id_ && hint.last->index < n && try_claim(*hint.last)) return hint.last;
            return claim_from(0, n);
        } else {
            const std::size_t start = cursor_.load(std::memory_order_relaxed);
            entry* got = claim_from(start < n ? start : 0, n);
            if (got != nullptr)
                cursor_.store(got->index + 1 == n ? 0 : got->index + 1, std::memory_order_relaxed);
            return got;
        }
    }
    [[nodiscard]] bool try_claim(std::size_t i) noexcept { return try_claim(at(i)); }
    [[nodiscard]] static bool try_claim(entry& e) noexcept {
        return move_state(e, slot_state::idle, slot_state::leased);
    }

    // Reserves a vacant slot for a connection about to open; `none` when the pool is full.
    [[nodiscard]] std::size_t reserve() noexcept {
        for (std::size_t i = 0, n = limit(); i < n; ++i)
            if (move_state(at(i), slot_state::vacant, slot_state::opening)) return i;
        return none;
    }

    // The holder of a reserved slot puts its new connection in it (still held).
    Slot& install(std::size_t i, slot_ptr s) noexcept {
        entry& e = at(i);
        s->index = i;
        s->conn.attach(e.board);
        e.publish(s->info);
        e.held = std::move(s);
        e.state.store(slot_state::leased, std::memory_order_relaxed);
        return *e.held;
    }
    // The holder makes its slot idle: anyone may claim it from now on.
    void make_idle(std::size_t i) noexcept { make_idle(at(i)); }
    void make_idle(entry& e) noexcept {
        last_returned = {id_, &e};
        e.state.store(slot_state::idle, std::memory_order_seq_cst);
    }
    // The holder empties its slot: the connection is returned (to be closed by the caller), and
    // the capacity is free.
    slot_ptr vacate(std::size_t i) noexcept {
        slot_ptr s = std::move(at(i).held);
        at(i).state.store(slot_state::vacant, std::memory_order_seq_cst);
        return s;
    }

    // A snapshot, one slot at a time: exact when nothing moves meanwhile.
    [[nodiscard]] slot_counts counts() const noexcept {
        slot_counts c;
        for (std::size_t i = 0, n = capacity(); i < n; ++i) {
            const slot_state state = at(i).state.load(std::memory_order_acquire);
            if (state == slot_state::vacant) continue;
            ++c.total;
            ++(state == slot_state::idle ? c.idle : c.in_use);
        }
        return c;
    }
    // True when a slot within the limit is idle or vacant: a waiter could take or open one.
    [[nodiscard]] bool any_available() const noexcept {
        for (std::size_t i = 0, n = limit(); i < n; ++i) {
            const slot_state state = at(i).state.load(std::memory_order_seq_cst);
            if (state == slot_state::idle || state == slot_state::vacant) return true;
        }
        return false;
    }
    // Where this thread acquired a lease it still holds, if it holds one.
    [[nodiscard]] std::optional<std::source_location> held_here() const noexcept {
        const auto me = std::this_thread::get_id();
        for (std::size_t i = 0, n = capacity(); i < n; ++i)
            if (at(i).holder.load(std::memory_order_relaxed) == me &&
                at(i).state.load(std::memory_order_acquire) == slot_state::leased)
                return at(i).where.load(std::memory_order_relaxed);
        return std::nullopt;
    }
    // True when every slot in use holds a connection leased out by a thread for which `waiting`
    // holds: nothing within the limit is vacant, idle, opening, or held by the pool itself.
    template <class Predicate>
    [[nodiscard]] bool all_held_by(Predicate waiting) const {
        for (std::size_t i = 0, n = capacity(), in_use = limit(); i < n; ++i) {
            const entry& e = at(i);
            const slot_state state = e.state.load(std::memory_order_acquire);
            if (i >= in_use && state == slot_state::vacant) continue;
            if (state != slot_state::leased) return false;
            const std::thread::id thread = e.holder.load(std::memory_order_relaxed);
            if (thread == std::thread::id{} || !waiting(thread)) return false;
        }
        return true;
    }
    // The leases out, longest held first, as of `now`.
    template <class TimePoint>
    [[nodiscard]] std::vector<lease_holder> holders(TimePoint now) const {
        std::vector<lease_holder> out;
        for (std::size_t i = 0, n = capacity(); i < n; ++i)
            if (const auto held = at(i).holder_at(now)) out.push_back(*held);
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
        for (std::size_t i = 0, n = capacity(); i < n; ++i) {
            std::int64_t since = 0;
            const std::optional<lease_holder> held = at(i).holder_at(now, since);
            if (!held || held->held_for < after) continue;
            if (at(i).reported_since.exchange(since, std::memory_order_relaxed) != since)
                out.push_back(*held);
        }
        return out;
    }
    // Every connection, idle or not, as of `now` (see connection_snapshot).
    template <class TimePoint>
    [[nodiscard]] std::vector<connection_snapshot> snapshot(TimePoint now) const {
        std::vector<connection_snapshot> out;
        for (std::size_t i = 0, n = capacity(); i < n; ++i)
            if (auto c = at(i).snapshot(i, now)) out.push_back(std::move(*c));
        return out;
    }
    // Orders every session in the table to interrupt what it has been running for a while (see
    // session_board::interrupt); how many had something to interrupt.
    std::size_t interrupt_all() {
        std::size_t ordered = 0;
        for (std::size_t i = 0, n = capacity(); i < n; ++i) ordered += at(i).board.interrupt() ? 1 : 0;
        return ordered;
    }
    [[nodiscard]] std::uint64_t leases() const noexcept {
        std::uint64_t sum = 0;
        for (std::size_t i = 0, n = capacity(); i < n; ++i)
            sum += at(i).leases.load(std::memory_order_relaxed);
        return sum;
    }

private:
    // The slot a thread returned last, per pool type: a hint only, valid while table `table` lives.
    struct thread_hint {
        std::uint64_t table = 0; // no table's id
        entry* last = nullptr;
    };
    static inline thread_local thread_hint last_returned{};

    // Allocates the chunks `size` slots need; publishes the new capacity after them.
    void grow(std::size_t size) {
        const std::size_t have = capacity_.load(std::memory_order_relaxed);
        if (size <= have) return;
        for (std::size_t c = (have + chunk_size - 1) >> chunk_bits; c < (size + chunk_size - 1) >> chunk_bits;
             ++c) {
            chunks_[c] = std::make_unique<entry[]>(chunk_size);
            for (std::size_t k = 0; k < chunk_size; ++k) chunks_[c][k].index = (c << chunk_bits) + k;
        }
        capacity_.store(size, std::memory_order_release);
    }

    entry* claim_from(std::size_t start, std::size_t n) noexcept {
        for (std::size_t k = 0, i = start; k < n; ++k, i = i + 1 == n ? 0 : i + 1)
            if (entry& e = at(i); try_claim(e)) return &e;
        return nullptr;
    }
    // seq_cst: see waiter_queue::waiting(). The plain load first spares a locked instruction on a
    // slot that is not in the state wanted (and a seq_cst load costs no more than a relaxed one on
    // x86 and ARMv8).
    static bool move_state(entry& e, slot_state from, slot_state to) noexcept {
        std::atomic<slot_state>& state = e.state;
        return state.load(std::memory_order_seq_cst) == from &&
               state.compare_exchange_strong(from, to, std::memory_order_seq_cst);
    }

    std::unique_ptr<std::unique_ptr<entry[]>[]> chunks_; // a pointer per chunk up to the ceiling
    std::atomic<std::size_t> capacity_{0};               // slots allocated
    std::atomic<std::size_t> limit_{0};                  // slots in use (max_connections)
    std::atomic<std::size_t> cursor_{0};                 // FIFO reuse: where the next claim starts
    std::uint64_t id_ = next_id.fetch_add(1, std::memory_order_relaxed); // unique in the process
    static inline std::atomic<std::uint64_t> next_id{1};
};

} // namespace sqlpool::detail
