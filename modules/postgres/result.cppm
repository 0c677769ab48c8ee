// result: one PGresult, owned, with its rows read as C++ values (see :values).
module;
#include "gmf.hpp"
export module sqlpool.postgres:result;
import sqlpool;
import :values;

export namespace sqlpool::postgres {

// What a statement returned: its rows (text format), its command tag and the rows it changed.
class result {
public:
    result() = default;
    explicit result(PGresult* res) noexcept : res_(res) {}

    [[nodiscard]] int rows() const noexcept { return res_ ? PQntuples(res_.get()) : 0; }
    [[nodiscard]] int columns() const noexcept { return res_ ? PQnfields(res_.get()) : 0; }
    [[nodiscard]] bool is_null(int row, int column) const {
        return PQgetisnull(checked(row, column), row, column) != 0;
    }
    // The command tag ("SELECT 1", "INSERT 0 3", "SET", ...).
    [[nodiscard]] std::string_view command_tag() const noexcept {
        return res_ ? PQcmdStatus(res_.get()) : "";
    }
    // The rows an INSERT, UPDATE, DELETE, MERGE, SELECT, ... affected; 0 for other commands.
    [[nodiscard]] std::int64_t affected() const noexcept {
        const char* text = res_ ? PQcmdTuples(res_.get()) : "";
        std::int64_t n = 0;
        std::from_chars(text, text + std::strlen(text), n);
        return n;
    }

    template <column_type T>
    [[nodiscard]] T get(int row, int column) const {
        PGresult* res = checked(row, column);
        const char* text = PQgetisnull(res, row, column) != 0 ? nullptr : PQgetvalue(res, row, column);
        return from_text<T>(text, static_cast<std::size_t>(PQgetlength(res, row, column)),
                            PQfname(res, column));
    }

    // Row `row` as a tuple of its first sizeof...(Ts) columns; misuse_error when it has fewer.
    template <column_type... Ts>
    [[nodiscard]] std::tuple<Ts...> row(int row) const {
        if (columns() < static_cast<int>(sizeof...(Ts)))
            throw misuse_error("the statement returns " + std::to_string(columns()) + " column(s), " +
                               std::to_string(sizeof...(Ts)) + " were asked for");
        return [&]<std::size_t... I>(std::index_sequence<I...>) {
            return std::tuple<Ts...>{get<Ts>(row, static_cast<int>(I))...};
        }(std::index_sequence_for<Ts...>{});
    }

    [[nodiscard]] PGresult* native() const noexcept { return res_.get(); }

private:
    struct clear {
        void operator()(PGresult* res) const noexcept { PQclear(res); }
    };

    PGresult* checked(int row, int column) const {
        if (row < 0 || row >= rows() || column < 0 || column >= columns())
            throw misuse_error("row " + std::to_string(row) + ", column " + std::to_string(column) +
                               " is outside the result (" + std::to_string(rows()) + " rows, " +
                               std::to_string(columns()) + " columns)");
        return res_.get();
    }

    std::unique_ptr<PGresult, clear> res_;
};

} // namespace sqlpool::postgres
