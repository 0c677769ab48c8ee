// SQLite's result codes and open flags as typed constants: SQLite's macros do not cross `import`.
module;
#include "../detail/gmf.hpp"
export module sqlpool:constants;

export namespace sqlpool::result_code {
inline constexpr int ok = SQLITE_OK;
inline constexpr int error = SQLITE_ERROR;
inline constexpr int internal = SQLITE_INTERNAL;
inline constexpr int perm = SQLITE_PERM;
inline constexpr int abort = SQLITE_ABORT;
inline constexpr int busy = SQLITE_BUSY;
inline constexpr int locked = SQLITE_LOCKED;
inline constexpr int nomem = SQLITE_NOMEM;
inline constexpr int readonly = SQLITE_READONLY;
inline constexpr int interrupt = SQLITE_INTERRUPT;
inline constexpr int ioerr = SQLITE_IOERR;
inline constexpr int corrupt = SQLITE_CORRUPT;
inline constexpr int notfound = SQLITE_NOTFOUND;
inline constexpr int full = SQLITE_FULL;
inline constexpr int cantopen = SQLITE_CANTOPEN;
inline constexpr int protocol = SQLITE_PROTOCOL;
inline constexpr int schema = SQLITE_SCHEMA;
inline constexpr int toobig = SQLITE_TOOBIG;
inline constexpr int constraint = SQLITE_CONSTRAINT;
inline constexpr int mismatch = SQLITE_MISMATCH;
inline constexpr int misuse = SQLITE_MISUSE;
inline constexpr int auth = SQLITE_AUTH;
inline constexpr int range = SQLITE_RANGE;
inline constexpr int notadb = SQLITE_NOTADB;
inline constexpr int row = SQLITE_ROW;
inline constexpr int done = SQLITE_DONE;
// Extended codes a caller most often tells apart.
inline constexpr int busy_snapshot = SQLITE_BUSY_SNAPSHOT;
inline constexpr int busy_timeout = SQLITE_BUSY_TIMEOUT;
inline constexpr int ioerr_read = SQLITE_IOERR_READ;
inline constexpr int ioerr_write = SQLITE_IOERR_WRITE;
inline constexpr int ioerr_fsync = SQLITE_IOERR_FSYNC;
inline constexpr int cantopen_symlink = SQLITE_CANTOPEN_SYMLINK;
inline constexpr int constraint_unique = SQLITE_CONSTRAINT_UNIQUE;
inline constexpr int constraint_primarykey = SQLITE_CONSTRAINT_PRIMARYKEY;
inline constexpr int constraint_foreignkey = SQLITE_CONSTRAINT_FOREIGNKEY;
inline constexpr int constraint_notnull = SQLITE_CONSTRAINT_NOTNULL;
inline constexpr int constraint_check = SQLITE_CONSTRAINT_CHECK;
inline constexpr int readonly_dbmoved = SQLITE_READONLY_DBMOVED;
} // namespace sqlpool::result_code

export namespace sqlpool::open_flag {
inline constexpr int read_only = SQLITE_OPEN_READONLY;
inline constexpr int read_write = SQLITE_OPEN_READWRITE;
inline constexpr int create = SQLITE_OPEN_CREATE;
inline constexpr int uri = SQLITE_OPEN_URI;
inline constexpr int memory = SQLITE_OPEN_MEMORY;
inline constexpr int no_mutex = SQLITE_OPEN_NOMUTEX;
inline constexpr int full_mutex = SQLITE_OPEN_FULLMUTEX;
inline constexpr int nofollow = SQLITE_OPEN_NOFOLLOW;
inline constexpr int extended_result_codes = SQLITE_OPEN_EXRESCODE;
} // namespace sqlpool::open_flag

export namespace sqlpool {
// The runtime library's version, e.g. 3040001 for 3.40.1.
[[nodiscard]] inline int sqlite_version_number() noexcept {
    return sqlite3_libversion_number();
}
} // namespace sqlpool
