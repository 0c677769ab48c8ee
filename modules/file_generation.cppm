// file_generation: which database the pool's sessions have open (their session_identity), so that
// sessions to a database file deleted or replaced under the pool never meet sessions to the file
// now at the path.
module;
#include "detail/gmf.hpp"
export module sqlpool:file_generation;
import :session;
import :connection_info;

namespace sqlpool::detail {

// What every connection of one generation holds: ended, with the reason its connections retire,
// once the file moved (broken) or soft_evict() ran (evicted).
class generation_token {
public:
    [[nodiscard]] inline bool ended() const noexcept { return reason() != retire_reason::none; }
    [[nodiscard]] inline retire_reason reason() const noexcept {
        return reason_.load(std::memory_order_acquire);
    }
    void end(retire_reason why) const noexcept { reason_.store(why, std::memory_order_release); }

private:
    mutable std::atomic<retire_reason> reason_{retire_reason::none};
};

// Every pooled connection holds its generation's token; a generation ends when the file at the
// path turns out to be another one. Connections of an ended generation retire, and no connection
// opens on the new file until the last of them has closed: the two files share the names of their
// journals (-journal, -wal, -shm), so a connection to the new file could otherwise take the old
// file's live rollback journal for a hot one and play it back into the new file, or truncate the
// -shm file the old connections have mapped
// (https://sqlite.org/howtocorrupt.html#unlinking_or_renaming_a_database_file_while_in_use).
// The pool calls every member under its lock.
class file_generation {
public:
    using token = std::shared_ptr<const generation_token>;

    [[nodiscard]] const token& current() const noexcept { return current_; }
    // Lock-free: a returning connection asks this without the pool's lock.
    [[nodiscard]] inline static bool is_current(const token& t) noexcept { return !t->ended(); }

    // Before a connection opens: true when the file at the path is not the one the current
    // generation has open (the caller then ends the generation).
    [[nodiscard]] bool changed(const session_identity& now) const noexcept { return known_ && now != key_; }
    // After a session opened: what it opened (nothing to compare in memory) is the current
    // generation's.
    void opened(const session_identity& key) noexcept {
        if (!key.known()) return;
        key_ = key;
        known_ = true;
    }

    // The file moved: connections holding the current token are now of an ended generation.
    void end() {
        std::erase_if(ended_, [](const std::weak_ptr<const generation_token>& e) { return e.expired(); });
        current_->end(retire_reason::broken);
        ended_.emplace_back(current_);
        ended_.insert(ended_.end(), evicted_.begin(), evicted_.end()); // they have the old file open too
        evicted_.clear();
        current_ = std::make_shared<const generation_token>();
        known_ = false;
    }
    // soft_evict(): connections holding the current token retire, and new ones open at once (the
    // file did not move, so nothing waits for the old ones to close).
    void evict() {
        std::erase_if(evicted_, [](const std::weak_ptr<const generation_token>& e) { return e.expired(); });
        current_->end(retire_reason::evicted);
        evicted_.emplace_back(current_);
        current_ = std::make_shared<const generation_token>();
    }
    // True when every connection of ended generations has closed.
    [[nodiscard]] bool ended_closed() const noexcept {
        return std::ranges::all_of(
            ended_, [](const std::weak_ptr<const generation_token>& e) { return e.expired(); });
    }

private:
    token current_ = std::make_shared<const generation_token>();
    std::vector<std::weak_ptr<const generation_token>>
        ended_; // generations whose connections may still be open
    std::vector<std::weak_ptr<const generation_token>> evicted_; // evicted generations, ditto
    session_identity key_;
    bool known_ = false;
};

} // namespace sqlpool::detail
