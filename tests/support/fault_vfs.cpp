// The fault-injecting VFS: every call forwards to the wrapped default VFS (and the file it opened),
// except the ones a rule picks, which fail without touching the file.
#include "support/fault_vfs.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <cmath>
#include <mutex>
#include <stdexcept>

namespace sqlpool_test {

namespace {

// Our file: SQLite allocates vfs.szOsFile bytes; the real VFS's file lives right behind ours.
struct fault_file {
    sqlite3_file base; // first: SQLite sees a sqlite3_file*
    fault_vfs* owner;
    sqlite3_file* real;
    int flags; // xOpen's flags: the file type bits decide whether faults apply
};
static_assert(sizeof(fault_file) % alignof(sqlite3_int64) == 0 && sizeof(fault_file) % alignof(void*) == 0,
              "the real file behind ours must stay aligned");

sqlite3_vfs* real_vfs = nullptr;
sqlite3_vfs wrapper{};

fault_file* as_fault(sqlite3_file* file) noexcept {
    return reinterpret_cast<fault_file*>(file);
}
sqlite3_file* real_of(sqlite3_file* file) noexcept {
    return as_fault(file)->real;
}
fault_vfs& owner_of(sqlite3_file* file) noexcept {
    return *as_fault(file)->owner;
}

bool applies(sqlite3_file* file) noexcept {
    fault_file* f = as_fault(file);
    return f->owner->enabled() && f->owner->targets(f->flags);
}

// ---- sqlite3_io_methods: forward, count, and fail what the rules pick ----

int file_close(sqlite3_file* file) {
    sqlite3_file* real = real_of(file);
    return real->pMethods != nullptr ? real->pMethods->xClose(real) : SQLITE_OK;
}

int file_read(sqlite3_file* file, void* buffer, int amount, sqlite3_int64 offset) {
    fault_vfs& owner = owner_of(file);
    owner.count(io_call::read);
    if (applies(file)) {
        const bool by_kind = owner.should_fail(fault::read_ioerr);
        const bool by_count = owner.should_fail(fault::any_io);
        if (by_kind || by_count) return SQLITE_IOERR_READ;
    }
    sqlite3_file* real = real_of(file);
    return real->pMethods->xRead(real, buffer, amount, offset);
}

int file_write(sqlite3_file* file, const void* buffer, int amount, sqlite3_int64 offset) {
    fault_vfs& owner = owner_of(file);
    owner.count(io_call::write);
    if (applies(file)) {
        const bool full = owner.should_fail(fault::write_full);
        const bool by_kind = owner.should_fail(fault::write_ioerr);
        const bool by_count = owner.should_fail(fault::any_io);
        if (full) return SQLITE_FULL;
        if (by_kind || by_count) return SQLITE_IOERR_WRITE;
    }
    sqlite3_file* real = real_of(file);
    return real->pMethods->xWrite(real, buffer, amount, offset);
}

int file_truncate(sqlite3_file* file, sqlite3_int64 size) {
    owner_of(file).count(io_call::truncate);
    sqlite3_file* real = real_of(file);
    return real->pMethods->xTruncate(real, size);
}

int file_sync(sqlite3_file* file, int flags) {
    fault_vfs& owner = owner_of(file);
    owner.count(io_call::sync);
    if (applies(file)) {
        const bool by_kind = owner.should_fail(fault::sync_ioerr);
        const bool by_count = owner.should_fail(fault::any_io);
        if (by_kind || by_count) return SQLITE_IOERR_FSYNC;
    }
    if (!owner.passes_syncs()) return SQLITE_OK;
    sqlite3_file* real = real_of(file);
    return real->pMethods->xSync(real, flags);
}

int file_size(sqlite3_file* file, sqlite3_int64* size) {
    sqlite3_file* real = real_of(file);
    return real->pMethods->xFileSize(real, size);
}

int file_lock(sqlite3_file* file, int level) {
    fault_vfs& owner = owner_of(file);
    owner.count(io_call::lock);
    if (applies(file) && owner.should_fail(fault::lock_busy)) return SQLITE_BUSY;
    sqlite3_file* real = real_of(file);
    return real->pMethods->xLock(real, level);
}

int file_unlock(sqlite3_file* file, int level) {
    sqlite3_file* real = real_of(file);
    return real->pMethods->xUnlock(real, level);
}

int file_check_reserved_lock(sqlite3_file* file, int* out) {
    sqlite3_file* real = real_of(file);
    return real->pMethods->xCheckReservedLock(real, out);
}

int file_control(sqlite3_file* file, int op, void* arg) {
    sqlite3_file* real = real_of(file);
    return real->pMethods->xFileControl(real, op, arg);
}

int file_sector_size(sqlite3_file* file) {
    sqlite3_file* real = real_of(file);
    return real->pMethods->xSectorSize(real);
}

int file_device_characteristics(sqlite3_file* file) {
    sqlite3_file* real = real_of(file);
    return real->pMethods->xDeviceCharacteristics(real);
}

int file_shm_map(sqlite3_file* file, int page, int page_size, int extend, void volatile** out) {
    sqlite3_file* real = real_of(file);
    return real->pMethods->xShmMap(real, page, page_size, extend, out);
}

int file_shm_lock(sqlite3_file* file, int offset, int n, int flags) {
    fault_vfs& owner = owner_of(file);
    owner.count(io_call::shm_lock);
    // Only taking a lock may fail; an unlock always succeeds, as SQLite requires.
    if ((flags & SQLITE_SHM_LOCK) != 0 && applies(file) && owner.should_fail(fault::lock_busy))
        return SQLITE_BUSY;
    sqlite3_file* real = real_of(file);
    return real->pMethods->xShmLock(real, offset, n, flags);
}

void file_shm_barrier(sqlite3_file* file) {
    sqlite3_file* real = real_of(file);
    real->pMethods->xShmBarrier(real);
}

int file_shm_unmap(sqlite3_file* file, int delete_flag) {
    sqlite3_file* real = real_of(file);
    return real->pMethods->xShmUnmap(real, delete_flag);
}

int file_fetch(sqlite3_file* file, sqlite3_int64 offset, int amount, void** out) {
    sqlite3_file* real = real_of(file);
    return real->pMethods->xFetch(real, offset, amount, out);
}

int file_unfetch(sqlite3_file* file, sqlite3_int64 offset, void* page) {
    sqlite3_file* real = real_of(file);
    return real->pMethods->xUnfetch(real, offset, page);
}

// One method table per io_methods version, so that a wrapped file never claims more (shared
// memory, mmap) than the real file supports: SQLite decides WAL support from iVersion.
constexpr sqlite3_io_methods make_methods(int version) {
    sqlite3_io_methods m{};
    m.iVersion = version;
    m.xClose = file_close;
    m.xRead = file_read;
    m.xWrite = file_write;
    m.xTruncate = file_truncate;
    m.xSync = file_sync;
    m.xFileSize = file_size;
    m.xLock = file_lock;
    m.xUnlock = file_unlock;
    m.xCheckReservedLock = file_check_reserved_lock;
    m.xFileControl = file_control;
    m.xSectorSize = file_sector_size;
    m.xDeviceCharacteristics = file_device_characteristics;
    if (version >= 2) {
        m.xShmMap = file_shm_map;
        m.xShmLock = file_shm_lock;
        m.xShmBarrier = file_shm_barrier;
        m.xShmUnmap = file_shm_unmap;
    }
    if (version >= 3) {
        m.xFetch = file_fetch;
        m.xUnfetch = file_unfetch;
    }
    return m;
}

const sqlite3_io_methods methods_v1 = make_methods(1);
const sqlite3_io_methods methods_v2 = make_methods(2);
const sqlite3_io_methods methods_v3 = make_methods(3);

// ---- sqlite3_vfs: open wraps the file; everything else forwards to the real VFS ----

int vfs_open(sqlite3_vfs* vfs, const char* name, sqlite3_file* file, int flags, int* out_flags) {
    auto* owner = static_cast<fault_vfs*>(vfs->pAppData);
    owner->count(io_call::open);
    fault_file* f = as_fault(file);
    f->owner = owner;
    // The real file's bytes start right after ours (szOsFile covers both; 8-byte aligned).
    f->real = reinterpret_cast<sqlite3_file*>(reinterpret_cast<unsigned char*>(file) + sizeof(fault_file));
    f->flags = flags;
    file->pMethods = nullptr;
    const int rc = real_vfs->xOpen(real_vfs, name, f->real, flags, out_flags);
    if (const sqlite3_io_methods* real_methods = f->real->pMethods; real_methods != nullptr) {
        const int version = std::min(real_methods->iVersion, 3);
        file->pMethods = version >= 3 ? &methods_v3 : version == 2 ? &methods_v2 : &methods_v1;
    }
    return rc;
}

int vfs_delete(sqlite3_vfs*, const char* name, int sync_dir) {
    return real_vfs->xDelete(real_vfs, name, sync_dir);
}
int vfs_access(sqlite3_vfs*, const char* name, int flags, int* out) {
    return real_vfs->xAccess(real_vfs, name, flags, out);
}
int vfs_full_pathname(sqlite3_vfs*, const char* name, int size, char* out) {
    return real_vfs->xFullPathname(real_vfs, name, size, out);
}
void* vfs_dl_open(sqlite3_vfs*, const char* name) {
    return real_vfs->xDlOpen(real_vfs, name);
}
void vfs_dl_error(sqlite3_vfs*, int size, char* out) {
    real_vfs->xDlError(real_vfs, size, out);
}
void (*vfs_dl_sym(sqlite3_vfs*, void* handle, const char* symbol))(void) {
    return real_vfs->xDlSym(real_vfs, handle, symbol);
}
void vfs_dl_close(sqlite3_vfs*, void* handle) {
    real_vfs->xDlClose(real_vfs, handle);
}
int vfs_randomness(sqlite3_vfs*, int size, char* out) {
    return real_vfs->xRandomness(real_vfs, size, out);
}
int vfs_sleep(sqlite3_vfs*, int microseconds) {
    return real_vfs->xSleep(real_vfs, microseconds);
}
int vfs_current_time(sqlite3_vfs*, double* out) {
    return real_vfs->xCurrentTime(real_vfs, out);
}
int vfs_get_last_error(sqlite3_vfs*, int size, char* out) {
    return real_vfs->xGetLastError != nullptr ? real_vfs->xGetLastError(real_vfs, size, out) : 0;
}
int vfs_current_time_int64(sqlite3_vfs*, sqlite3_int64* out) {
    return real_vfs->xCurrentTimeInt64(real_vfs, out);
}
int vfs_set_system_call(sqlite3_vfs*, const char* name, sqlite3_syscall_ptr call) {
    return real_vfs->xSetSystemCall(real_vfs, name, call);
}
sqlite3_syscall_ptr vfs_get_system_call(sqlite3_vfs*, const char* name) {
    return real_vfs->xGetSystemCall(real_vfs, name);
}
const char* vfs_next_system_call(sqlite3_vfs*, const char* name) {
    return real_vfs->xNextSystemCall(real_vfs, name);
}

void register_over_default(fault_vfs* owner) {
    real_vfs = sqlite3_vfs_find(nullptr);
    if (real_vfs == nullptr) throw std::runtime_error("fault_vfs: SQLite has no default VFS to wrap");
    wrapper.iVersion = std::min(real_vfs->iVersion, 3);
    wrapper.szOsFile = static_cast<int>(sizeof(fault_file)) + real_vfs->szOsFile;
    wrapper.mxPathname = real_vfs->mxPathname;
    wrapper.zName = fault_vfs::vfs_name;
    wrapper.pAppData = owner;
    wrapper.xOpen = vfs_open;
    wrapper.xDelete = vfs_delete;
    wrapper.xAccess = vfs_access;
    wrapper.xFullPathname = vfs_full_pathname;
    wrapper.xDlOpen = vfs_dl_open;
    wrapper.xDlError = vfs_dl_error;
    wrapper.xDlSym = vfs_dl_sym;
    wrapper.xDlClose = vfs_dl_close;
    wrapper.xRandomness = vfs_randomness;
    wrapper.xSleep = vfs_sleep;
    wrapper.xCurrentTime = vfs_current_time;
    wrapper.xGetLastError = vfs_get_last_error;
    if (wrapper.iVersion >= 2 && real_vfs->xCurrentTimeInt64 != nullptr)
        wrapper.xCurrentTimeInt64 = vfs_current_time_int64;
    if (wrapper.iVersion >= 3 && real_vfs->xSetSystemCall != nullptr) {
        wrapper.xSetSystemCall = vfs_set_system_call;
        wrapper.xGetSystemCall = vfs_get_system_call;
        wrapper.xNextSystemCall = vfs_next_system_call;
    }
    if (const int rc = sqlite3_vfs_register(&wrapper, 1); rc != SQLITE_OK)
        throw std::runtime_error(std::string("fault_vfs: sqlite3_vfs_register failed: ") +
                                 sqlite3_errstr(rc));
}

constexpr std::array<const char*, fault_kinds> fault_names{"read_ioerr", "write_ioerr", "write_full",
                                                           "sync_ioerr", "lock_busy",   "any_io"};

} // namespace

const char* to_string(fault kind) noexcept {
    const auto index = static_cast<std::size_t>(kind);
    return index < fault_names.size() ? fault_names[index] : "?";
}

fault_vfs& fault_vfs::install() {
    static fault_vfs instance; // trivially destructible: all atomics
    static std::once_flag once;
    std::call_once(once, [] { register_over_default(&instance); });
    return instance;
}

void fault_vfs::set(fault kind, fault_rule rule) noexcept {
    rule_state& r = rules_[static_cast<std::size_t>(kind)];
    const double rate = std::clamp(rule.rate, 0.0, 1.0);
    r.always.store(rate >= 1.0);
    r.threshold.store(rate > 0.0 && rate < 1.0 ? static_cast<std::uint64_t>(std::ldexp(rate, 64)) : 0);
    r.persistent.store(rule.persistent);
    r.fired.store(false);
    r.countdown.store(static_cast<std::int64_t>(rule.nth));
}

void fault_vfs::clear() noexcept {
    disable();
    for (std::size_t i = 0; i < fault_kinds; ++i) set(static_cast<fault>(i), {});
}

void fault_vfs::reset_counters() noexcept {
    for (auto& r : rules_) r.injected.store(0);
    for (auto& c : calls_) c.store(0);
}

std::uint64_t fault_vfs::injected(fault kind) const noexcept {
    return rules_[static_cast<std::size_t>(kind)].injected.load();
}

std::uint64_t fault_vfs::injected_total() const noexcept {
    std::uint64_t total = 0;
    for (const auto& r : rules_) total += r.injected.load();
    return total;
}

std::uint64_t fault_vfs::calls(io_call kind) const noexcept {
    return calls_[static_cast<std::size_t>(kind)].load();
}

bool fault_vfs::fired(fault kind) const noexcept {
    return rules_[static_cast<std::size_t>(kind)].fired.load();
}

std::string fault_vfs::summary() const {
    std::string text;
    for (std::size_t i = 0; i < fault_kinds; ++i) {
        if (!text.empty()) text += ' ';
        text += std::string(fault_names[i]) + "=" + std::to_string(rules_[i].injected.load());
    }
    return text;
}

bool fault_vfs::targets(int open_flags) const noexcept {
    return (open_flags & target_mask_.load()) != 0;
}

std::uint64_t fault_vfs::next_random() noexcept {
    // splitmix64 over an atomic counter: a lock-free, seedable stream shared by every thread.
    constexpr std::uint64_t golden = 0x9E37'79B9'7F4A'7C15ULL;
    std::uint64_t z = rng_.fetch_add(golden) + golden;
    z = (z ^ (z >> 30)) * 0xBF58'476D'1CE4'E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D0'49BB'1331'11EBULL;
    return z ^ (z >> 31);
}

bool fault_vfs::should_fail(fault kind) noexcept {
    rule_state& r = rules_[static_cast<std::size_t>(kind)];
    bool fail = r.persistent.load() && r.fired.load();
    std::int64_t left = r.countdown.load();
    while (left > 0) {
        if (r.countdown.compare_exchange_weak(left, left - 1)) {
            if (left == 1) {
                r.fired.store(true);
                fail = true;
            }
            break;
        }
    }
    if (!fail && r.always.load()) fail = true;
    if (!fail) {
        const std::uint64_t threshold = r.threshold.load();
        if (threshold != 0 && next_random() < threshold) fail = true;
    }
    if (fail) r.injected.fetch_add(1);
    return fail;
}

} // namespace sqlpool_test
