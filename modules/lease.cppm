// basic_lease: the RAII handle to a pooled session. It does not depend on the pool's policies, so
// code that uses a connection can take a `sqlpool::lease&` (basic_lease<connection>) from any pool.
module;
#include "detail/gmf.hpp"
export module sqlpool:lease;
import :errors;
import :connection_info;
import :file_generation;

namespace sqlpool::detail {

// One pooled session and what the pool knows about it. Owned by its pool's slot table; a lease
// has exclusive use of it.
template <class Session>
struct basic_slot {
    file_generation::token generation; // first, so released last: after the session closed
    Session conn;
    connection_info info;
    std::size_t index = 0;         // its place in the pool's slot table
    std::uint64_t tended_uses = 0; // info.use_count at its last idle_upkeep()
};

// What a lease returns its slot to. Leases share ownership of it, so it outlives every lease it
// handed out, even when its pool is gone.
template <class Session>
class lease_owner {
public:
    virtual void give_back(basic_slot<Session>* leased) noexcept = 0;

protected:
    lease_owner() = default;
    lease_owner(const lease_owner&) = default;
    lease_owner& operator=(const lease_owner&) = default;
    lease_owner(lease_owner&&) = default;
    lease_owner& operator=(lease_owner&&) = default;
    ~lease_owner() = default;
};

} // namespace sqlpool::detail

export namespace sqlpool {
template <class Session>
class basic_lease;
} // namespace sqlpool

namespace sqlpool::detail {
template <class Session>
basic_lease<Session> make_lease(std::shared_ptr<lease_owner<Session>> owner,
                                basic_slot<Session>* leased) noexcept;
} // namespace sqlpool::detail

export namespace sqlpool {

// Exclusive use of one pooled session until the lease is destroyed or release()d, on any
// thread. Move-only. The session is reset when it goes back (for a SQLite connection: an open
// transaction is rolled back and every statement reset), so the next borrower starts clean.
template <class Session>
class basic_lease {
    using slot = detail::basic_slot<Session>;
    using owner = detail::lease_owner<Session>;

public:
    basic_lease() = default;
    basic_lease(const basic_lease&) = delete;
    basic_lease& operator=(const basic_lease&) = delete;
    basic_lease(basic_lease&& other) noexcept
        : owner_(std::move(other.owner_)), slot_(std::exchange(other.slot_, nullptr)) {}
    basic_lease& operator=(basic_lease&& other) noexcept {
        if (this != &other) {
            release();
            owner_ = std::move(other.owner_);
            slot_ = std::exchange(other.slot_, nullptr);
        }
        return *this;
    }
    ~basic_lease() { release(); }

    [[nodiscard]] Session* operator->() const { return &get(); }
    [[nodiscard]] Session& operator*() const { return get(); }
    [[nodiscard]] Session& get() const {
        if (!slot_) throw misuse_error("use of an empty, released or moved-from lease");
        return slot_->conn;
    }
    [[nodiscard]] const connection_info& info() const {
        if (!slot_) throw misuse_error("use of an empty, released or moved-from lease");
        return slot_->info;
    }
    [[nodiscard]] explicit operator bool() const noexcept { return slot_ != nullptr; }

    // Returns the connection to the pool now. The lease is empty afterwards. When it was the
    // last one out of a destroyed pool, what is left of the pool goes with it.
    void release() noexcept {
        if (slot_ == nullptr) return;
        const std::shared_ptr<owner> keep = std::move(owner_);
        keep->give_back(std::exchange(slot_, nullptr));
    }

private:
    friend basic_lease detail::make_lease<Session>(std::shared_ptr<owner>, slot*) noexcept;
    basic_lease(std::shared_ptr<owner> keep, slot* leased) noexcept
        : owner_(std::move(keep)), slot_(leased) {}

    std::shared_ptr<owner> owner_;
    slot* slot_ = nullptr;
};

} // namespace sqlpool

namespace sqlpool::detail {
template <class Session>
basic_lease<Session> make_lease(std::shared_ptr<lease_owner<Session>> owner,
                                basic_slot<Session>* leased) noexcept {
    return basic_lease<Session>(std::move(owner), leased);
}
} // namespace sqlpool::detail
