// session: what the pool core asks of one database connection (a session) and of the place its
// sessions come from (a session source). sqlpool::connection with sqlite_source is the first
// model; the core names nothing else of a database, so a server's client connection can be the next.
module;
#include "detail/gmf.hpp"
export module sqlpool:session;
import :names;
import :stats;
import :deadline;
import :session_board;

export namespace sqlpool {

// What a session's reset on return found: nothing to undo (`clean`), state undone so that the
// next borrower starts clean (`restored`), or a session that must not be handed out again
// (`retire`: broken, or left state the reset cannot undo).
enum class reset_verdict : std::uint8_t { clean, restored, retire };

// What an error code calls for: run the transaction again (`retry`), close this session
// (`retire`), close every session opened so far because the database they reach was replaced
// (`reconnect_all`), or report it (`fail`).
enum class error_action : std::uint8_t { retry, retire, reconnect_all, fail };

// Which database object a session has open, comparable across sessions: for a SQLite file its
// device and inode; {0, 0} when there is nothing to compare (an in-memory database).
struct session_identity {
    std::uint64_t domain = 0;
    std::uint64_t object = 0;
    friend bool operator==(const session_identity&, const session_identity&) = default;
    [[nodiscard]] constexpr bool known() const noexcept { return *this != session_identity{}; }
};

// One connection to a database, used by one thread at a time.
//   reset_for_reuse()  makes it clean for the next borrower and says how that went; cheap when
//                      nothing ran since the last reset (it is called on every return)
//   broken_code()      the code of the error that made it unusable, or 0
//   classify(code)     what an error code calls for
//   ping()             true when it answers and holds no transaction
//   identity()         what it opened (see session_identity)
//   set_default_isolation(level), begin(level)  transactions at a level of its database
//   interrupt()        makes the running statement fail; callable from another thread
//   idle_upkeep()      what it does for itself after a stretch idle (pool_config::idle_upkeep_after):
//                      statistics, caches given back; never throws
//   set_deadline(d)    bounds what runs on it until its reset (lock waits, statements: timeout_error,
//                      or cancelled_error on a stop request); an unbounded deadline clears it
//   attach(board)      the pool's board for it (see session_board), which outlives it: shows there
//                      what has been running a while, and interrupts it on the board's order
template <class S>
concept session = std::move_constructible<S> && std::destructible<S> &&
                  requires(S& s, const S& cs, typename S::level_type level, int code, const deadline& limit,
                           session_board& board) {
                      { s.reset_for_reuse() } -> std::same_as<reset_verdict>;
                      { cs.broken_code() } noexcept -> std::same_as<int>;
                      { S::classify(code) } noexcept -> std::same_as<error_action>;
                      { s.ping() } -> std::same_as<bool>;
                      { cs.identity() } noexcept -> std::same_as<session_identity>;
                      { s.set_default_isolation(level) } noexcept;
                      s.begin(level);
                      { s.interrupt() } noexcept;
                      { s.idle_upkeep() } noexcept;
                      { s.set_deadline(limit) } noexcept;
                      { s.attach(board) } noexcept;
                  };

// Where a pool's sessions come from, made from the pool's `Config`.
//   open(level)     a new session, set up (the config's on_connect included) with `level` as its
//                   default isolation; throws a sqlpool::error when it cannot
//   identity_now()  what a session opened now would open: when it differs from what the open
//                   sessions have, the database was replaced under them
//   opened(s)       a session opened (the first one tells where the database really is)
//   close()         lets go of what the source holds for its sessions (an in-memory database)
//   describe()      the database, for messages
//   report(stats)   adds what the source itself counts (a checkpoint manager's figures) to a
//                   pool's stats
template <class Src, class Config>
concept session_source = session<typename Src::session_type> && std::constructible_from<Src, const Config&> &&
                         requires(Src& src, const Src& csrc, const typename Src::session_type& opened,
                                  typename Src::session_type::level_type level, pool_stats& stats) {
                             { src.open(level) } -> std::same_as<typename Src::session_type>;
                             { csrc.identity_now() } noexcept -> std::same_as<session_identity>;
                             src.opened(opened);
                             { src.close() } noexcept;
                             { csrc.describe() } -> std::convertible_to<std::string_view>;
                             { csrc.report(stats) } noexcept;
                         };

} // namespace sqlpool

namespace sqlpool::detail {

inline constexpr enum_names<reset_verdict, 3> reset_verdict_names{{{reset_verdict::clean, "clean"},
                                                                   {reset_verdict::restored, "restored"},
                                                                   {reset_verdict::retire, "retire"}}};
static_assert(in_enum_order(reset_verdict_names));

inline constexpr enum_names<error_action, 4> error_action_names{
    {{error_action::retry, "retry"},
     {error_action::retire, "retire"},
     {error_action::reconnect_all, "reconnect_all"},
     {error_action::fail, "fail"}}};
static_assert(in_enum_order(error_action_names));

} // namespace sqlpool::detail

export namespace sqlpool {

[[nodiscard]] constexpr const char* to_string(reset_verdict verdict) noexcept {
    return detail::name_of(detail::reset_verdict_names, verdict);
}

[[nodiscard]] constexpr const char* to_string(error_action action) noexcept {
    return detail::name_of(detail::error_action_names, action);
}

} // namespace sqlpool
