// A fault-injecting SQLite VFS for tests: a pass-through over the default VFS (unix) that fails
// chosen calls on purpose, by rate or on a countdown, the way SQLite's own test_vfs.c and
// test_devsym.c do.
//
//   auto& faults = sqlpool_test::fault_vfs::install(); // once per process: becomes the default VFS
//   faults.set(sqlpool_test::fault::write_ioerr, {.rate = 0.01});
//   faults.set(sqlpool_test::fault::lock_busy, {.nth = 3});  // the 3rd lock call from now fails
//   faults.enable();
//   ... run the code under test ...
//   faults.disable();
//   faults.injected(sqlpool_test::fault::write_ioerr);       // how many were injected
//
// Every connection opened after install() without an explicit vfs= goes through it (":memory:"
// pools use memdb and do not). Disabled (the initial state) it only forwards and counts calls.
// All settings and counters are atomics: tests may change them while other threads do I/O.
// Plain C++ over SQLite's C API; it does not import sqlpool.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>

namespace sqlpool_test {

// What to inject. Each kind has its own rule and counter.
enum class fault : unsigned {
    read_ioerr,  // xRead returns SQLITE_IOERR_READ (nothing is read)
    write_ioerr, // xWrite returns SQLITE_IOERR_WRITE (nothing is written)
    write_full,  // xWrite returns SQLITE_FULL (nothing is written)
    sync_ioerr,  // xSync returns SQLITE_IOERR_FSYNC (nothing is synced)
    lock_busy,   // xLock, or a lock (not an unlock) through xShmLock, returns SQLITE_BUSY
    any_io,      // the chosen read, write or sync returns its IOERR code: "fail I/O call N"
};
inline constexpr std::size_t fault_kinds = 6;

// The calls the VFS counts, whether or not anything is injected.
enum class io_call : unsigned { open, read, write, sync, lock, shm_lock, truncate };
inline constexpr std::size_t io_call_kinds = 7;

[[nodiscard]] const char* to_string(fault kind) noexcept;

// When a fault fires. Both parts may be set: the call fails if either says so.
struct fault_rule {
    double rate = 0.0;       // probability that an eligible call fails (0..1), from the seeded RNG
    std::uint64_t nth = 0;   // the nth eligible call from now fails (1 = the next); 0: no countdown
    bool persistent = false; // once the countdown fired, every later eligible call fails too
};

class fault_vfs {
public:
    static constexpr const char* vfs_name = "sqlpool-fault";

    // Registers the VFS as the process's default (wrapping the default of the moment) on the
    // first call, and returns the one instance. Calls sqlite3_initialize(): a test that replaces
    // SQLite's allocator must do that first.
    static fault_vfs& install();

    fault_vfs(const fault_vfs&) = delete;
    fault_vfs& operator=(const fault_vfs&) = delete;

    // Injection on or off as a whole; rules and counters stay as they are.
    void enable() noexcept { enabled_.store(true); }
    void disable() noexcept { enabled_.store(false); }
    [[nodiscard]] bool enabled() const noexcept { return enabled_.load(); }

    // Replaces the rule for `kind` (restarting its countdown).
    void set(fault kind, fault_rule rule) noexcept;
    // Every rule off and injection disabled; counters stay.
    void clear() noexcept;
    // Counters of calls and injected faults back to zero.
    void reset_counters() noexcept;
    // Restarts the RNG that rates draw from.
    void seed(std::uint64_t seed) noexcept { rng_.store(seed); }

    // Whether xSync reaches the real file system. Off, syncs are counted (and may fail) but cost
    // nothing: for tests that use synchronous=FULL to get a sync per commit, and crash nothing.
    void pass_syncs(bool on) noexcept { pass_syncs_.store(on); }

    // Which files faults apply to: a mask of SQLITE_OPEN_MAIN_DB, SQLITE_OPEN_WAL, ... (the file
    // type bits of xOpen's flags). Files of other types are only counted. Default: every file.
    void target_files(int open_type_mask) noexcept { target_mask_.store(open_type_mask); }

    [[nodiscard]] std::uint64_t injected(fault kind) const noexcept;
    [[nodiscard]] std::uint64_t injected_total() const noexcept;
    [[nodiscard]] std::uint64_t calls(io_call kind) const noexcept;
    // Whether a countdown rule fired since it was set (for "fail call N until none is left").
    [[nodiscard]] bool fired(fault kind) const noexcept;
    // "read_ioerr=3 write_ioerr=12 ..." for reports.
    [[nodiscard]] std::string summary() const;

    // Internal, used by the VFS callbacks: whether this eligible call of `kind` fails now.
    [[nodiscard]] bool should_fail(fault kind) noexcept;
    [[nodiscard]] bool targets(int open_flags) const noexcept;
    void count(io_call kind) noexcept { calls_[static_cast<std::size_t>(kind)].fetch_add(1); }
    [[nodiscard]] bool passes_syncs() const noexcept { return pass_syncs_.load(); }

private:
    fault_vfs() = default;

    struct rule_state {
        std::atomic<std::uint64_t> threshold{0}; // rate scaled to 2^64 (0: never by rate)
        std::atomic<bool> always{false};         // rate 1.0
        std::atomic<std::int64_t> countdown{0};  // > 0: calls left until the failing one
        std::atomic<bool> persistent{false};
        std::atomic<bool> fired{false};
        std::atomic<std::uint64_t> injected{0};
    };

    std::uint64_t next_random() noexcept;

    std::atomic<bool> enabled_{false};
    std::atomic<bool> pass_syncs_{true};
    std::atomic<int> target_mask_{-1};
    std::atomic<std::uint64_t> rng_{0x5eed'5eed'5eed'5eedULL};
    std::array<rule_state, fault_kinds> rules_{};
    std::array<std::atomic<std::uint64_t>, io_call_kinds> calls_{};
};

} // namespace sqlpool_test
