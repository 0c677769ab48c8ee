// lease: the RAII handle to a pooled connection. It does not depend on the pool's policies, so
// code that uses a connection can take a `sqlpool::lease&` from any pool.
module;
#include "detail/gmf.hpp"
export module sqlpool:lease;
import :errors;
import :sqlite;
import :connection_info;
import :file_generation;

namespace sqlpool::detail {

// One pooled connection and what the pool knows about it. Owned by its pool's slot table; a lease
// has exclusive use of it.
struct slot {
    file_generation::token generation; // first, so released last: after the connection closed
    connection conn;
    connection_info info;
    std::size_t index = 0; // its place in the pool's slot table
};

// What a lease returns its slot to. Leases share ownership of it, so it outlives every lease it
// handed out, even when its pool is gone.
class lease_owner {
public:
    virtual void give_back(slot* leased) noexcept = 0;

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
class lease;
} // namespace sqlpool

namespace sqlpool::detail {
inline lease make_lease(std::shared_ptr<lease_owner> owner, slot* leased) noexcept;
} // namespace sqlpool::detail

export namespace sqlpool {

// Exclusive use of one pooled connection until the lease is destroyed or release()d, on any
// thread. Move-only. The connection is reset when it goes back: an open transaction is rolled
// back and every statement reset, so the next borrower starts clean.
class lease {
public:
    lease() = default;
    lease(const lease&) = delete;
    lease& operator=(const lease&) = delete;
    inline lease(lease&& other) noexcept
        : owner_(std::move(other.owner_)), slot_(std::exchange(other.slot_, nullptr)) {}
    inline lease& operator=(lease&& other) noexcept {
        if (this != &other) {
            release();
            owner_ = std::move(other.owner_);
            slot_ = std::exchange(other.slot_, nullptr);
        }
        return *this;
    }
    inline ~lease() { release(); }

    [[nodiscard]] inline connection* operator->() const { return &get(); }
    [[nodiscard]] inline connection& operator*() const { return get(); }
    [[nodiscard]] inline connection& get() const {
        if (!slot_) throw misuse_error("use of an empty, released or moved-from lease");
        return slot_->conn;
    }
    [[nodiscard]] inline const connection_info& info() const {
        if (!slot_) throw misuse_error("use of an empty, released or moved-from lease");
        return slot_->info;
    }
    [[nodiscard]] inline explicit operator bool() const noexcept { return slot_ != nullptr; }

    // Returns the connection to the pool now. The lease is empty afterwards. When it was the
    // last one out of a destroyed pool, what is left of the pool goes with it.
    inline void release() noexcept {
        if (slot_ == nullptr) return;
        const std::shared_ptr<detail::lease_owner> owner = std::move(owner_);
        owner->give_back(std::exchange(slot_, nullptr));
    }

private:
    friend lease detail::make_lease(std::shared_ptr<detail::lease_owner>, detail::slot*) noexcept;
    inline lease(std::shared_ptr<detail::lease_owner> owner, detail::slot* leased) noexcept
        : owner_(std::move(owner)), slot_(leased) {}

    std::shared_ptr<detail::lease_owner> owner_;
    detail::slot* slot_ = nullptr;
};

} // namespace sqlpool

namespace sqlpool::detail {
inline lease make_lease(std::shared_ptr<lease_owner> owner, slot* leased) noexcept {
    return lease(std::move(owner), leased);
}
} // namespace sqlpool::detail
