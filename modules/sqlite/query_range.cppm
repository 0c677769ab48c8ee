// query_range: the rows of a query as an input view of std::tuple<Ts...>, which std::ranges and
// range-v3 both accept.
module;
#include "../detail/gmf.hpp"
export module sqlpool:query_range;
import :errors;
import :values;
import :statement;

namespace sqlpool::detail {

// A query read into `columns` columns must return that many.
inline void check_columns(const statement& stmt, int columns, std::string_view sql) {
    if (stmt.column_count() != columns)
        throw misuse_error("query reads " + std::to_string(columns) +
                           " column(s) but the statement returns " + std::to_string(stmt.column_count()) +
                           " [sql: " + std::string(sql) + "]");
}

} // namespace sqlpool::detail

export namespace sqlpool {

// The rows of a query: an input view of std::tuple<Ts...>. Copies share one cursor.
template <column_type... Ts>
class query_range : public ::ranges::view_base, public std::ranges::view_base {
    struct cursor {
        statement stmt;
        std::optional<std::tuple<Ts...>> row;
        bool started = false;

        void advance() {
            const bool first = !started;
            started = true;
            if (stmt && stmt.step()) {
                if (first && stmt.reused())
                    detail::check_columns(stmt, static_cast<int>(sizeof...(Ts)), stmt.sql());
                row = read(std::index_sequence_for<Ts...>{});
            } else {
                row.reset();
                stmt = statement{}; // done: hand the statement back to the cache at once
            }
        }
        template <std::size_t... I>
        std::tuple<Ts...> read(std::index_sequence<I...>) {
            return std::tuple<Ts...>{stmt.template column<Ts>(static_cast<int>(I))...};
        }
    };

public:
    class iterator {
    public:
        using value_type = std::tuple<Ts...>;
        using reference = const value_type&;
        using difference_type = std::ptrdiff_t;
        using iterator_concept = std::input_iterator_tag;
        using iterator_category = std::input_iterator_tag;

        iterator() = default;
        reference operator*() const { return *cursor_->row; }
        const value_type* operator->() const { return &*cursor_->row; }
        iterator& operator++() {
            cursor_->advance();
            return *this;
        }
        void operator++(int) { ++*this; }
        friend bool operator==(const iterator& it, std::default_sentinel_t) noexcept {
            return it.cursor_ == nullptr || !it.cursor_->row.has_value();
        }

    private:
        friend class query_range;
        explicit iterator(cursor* c) : cursor_(c) {}
        cursor* cursor_ = nullptr;
    };

    query_range() = default;
    // Steps to the first row at once, so that errors (a wrong column count included) surface here.
    explicit query_range(statement stmt)
        : cursor_(std::make_shared<cursor>(cursor{std::move(stmt), {}, false})) {
        cursor_->advance();
    }

    iterator begin() {
        if (!cursor_) return iterator{};
        if (!cursor_->started) cursor_->advance();
        return iterator{cursor_.get()};
    }
    [[nodiscard]] std::default_sentinel_t end() const noexcept { return {}; }

private:
    std::shared_ptr<cursor> cursor_;
};

} // namespace sqlpool
