// fork_guard: which process an object was made in. A child that fork() creates must never use nor
// close the SQLite connections it inherited (https://sqlite.org/howtocorrupt.html#fork): objects
// that hold them record the fork generation they were made in, and leave them alone in a child.
module;
#include "detail/gmf.hpp"
export module sqlpool:fork_guard;

namespace sqlpool::detail {

// Counts the forks between the process sqlpool was loaded in and this one: 0 in the first process,
// incremented in each child by a pthread_atfork handler.
inline std::atomic<std::uint64_t> fork_generation{0};

// The generation of this process, once the handler is installed (the first call installs it, before
// any pooled object exists, so no fork can go unseen).
inline std::uint64_t fork_generation_now() noexcept {
    static const int installed =
        ::pthread_atfork(nullptr, nullptr, [] { fork_generation.fetch_add(1, std::memory_order_relaxed); });
    (void)installed;
    return fork_generation.load(std::memory_order_acquire);
}

// True in a child forked after generation `born` was recorded. One load and a comparison.
[[nodiscard]] inline bool forked_since(std::uint64_t born) noexcept {
    return fork_generation.load(std::memory_order_relaxed) != born;
}

// Keeps what a child inherited out of reach for good: never used, never destroyed (its destructor
// would close the parent's connections or join the parent's threads). Without memory for the
// holder the child terminates rather than touch them.
template <class... Parts>
void leave_behind(Parts&&... parts) noexcept {
    // An intended leak, in a forked child only.
    // NOLINTNEXTLINE(cppcoreguidelines-owning-memory,bugprone-unhandled-exception-at-new)
    (void)new std::tuple<std::remove_cvref_t<Parts>...>(std::forward<Parts>(parts)...);
}

} // namespace sqlpool::detail
