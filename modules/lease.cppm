// lease: the RAII handle to a pooled connection. It does not depend on the pool's policies, so
// code that uses a connection can take a `sqlpool::lease&` from any pool.
module;
#include "detail/gmf.hpp"
export module sqlpool:lease;
import :errors;
import :sqlite;
import :connection_info;

namespace sqlpool::detail {

// One pooled connection and what the pool knows about it. Owned by the pool while idle and by a
// lease while leased.
struct slot {
    std::shared_ptr<const int> generation; // first, so released last: after the connection closed
    connection conn;
    connection_info info;
};

// What a lease returns its slot to. The owner outlives every lease it handed out.
class lease_owner {
public:
    virtual void give_back(std::unique_ptr<slot> leased) noexcept = 0;

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
lease make_lease(lease_owner* owner, std::unique_ptr<slot> leased) noexcept;
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
    lease(lease&& other) noexcept
        : owner_(std::exchange(other.owner_, nullptr)), slot_(std::move(other.slot_)) {}
    lease& operator=(lease&& other) noexcept {
        if (this != &other) {
            release();
            owner_ = std::exchange(other.owner_, nullptr);
            slot_ = std::move(other.slot_);
        }
        return *this;
    }
    ~lease() { release(); }

    [[nodiscard]] connection* operator->() const { return &get(); }
    [[nodiscard]] connection& operator*() const { return get(); }
    [[nodiscard]] connection& get() const {
        if (!slot_) throw misuse_error("use of an empty, released or moved-from lease");
        return slot_->conn;
    }
    [[nodiscard]] const connection_info& info() const {
        if (!slot_) throw misuse_error("use of an empty, released or moved-from lease");
        return slot_->info;
    }
    [[nodiscard]] explicit operator bool() const noexcept { return slot_ != nullptr; }

    // Returns the connection to the pool now. The lease is empty afterwards.
    void release() noexcept {
        if (slot_) owner_->give_back(std::move(slot_));
        owner_ = nullptr;
    }

private:
    friend lease detail::make_lease(detail::lease_owner*, std::unique_ptr<detail::slot>) noexcept;
    lease(detail::lease_owner* owner, std::unique_ptr<detail::slot> leased) noexcept
        : owner_(owner), slot_(std::move(leased)) {}

    detail::lease_owner* owner_ = nullptr;
    std::unique_ptr<detail::slot> slot_;
};

} // namespace sqlpool

namespace sqlpool::detail {
lease make_lease(lease_owner* owner, std::unique_ptr<slot> leased) noexcept {
    return lease(owner, std::move(leased));
}
} // namespace sqlpool::detail
