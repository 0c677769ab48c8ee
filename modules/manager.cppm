// pool_manager: one pool per database, whatever the spelling of its name (a SQLite file's path,
// a PostgreSQL conninfo): database_traits<Source>::key() says which spellings are one database.
module;
#include "detail/gmf.hpp"
export module sqlpool:manager;
import :errors;
import :sqlite;
import :database_traits;
import :config;
import :config_text;
import :pool;

namespace sqlpool::detail {

// Each field whose text differs, as "field: existing vs requested".
inline std::vector<std::string> config_differences(const pool_config& existing,
                                                   const pool_config& requested) {
    std::vector<std::string> differences;
    const auto field_map = [](const pool_config& c) {
        std::map<std::string, std::string> fields;
        for (const auto& field : config_fields()) fields[std::string(field.key)] = field.write(c);
        std::string pragmas;
        for (const auto& [name, value] : c.pragmas)
            pragmas.append(pragmas.empty() ? "" : ",").append(name).append("=").append(value);
        fields["pragmas"] = "[" + pragmas + "]";
        std::string limits;
        for (const auto& [which, value] : c.limits)
            limits +=
                (limits.empty() ? "" : ",") + write_enum(which, limit_names) + "=" + std::to_string(value);
        fields["limits"] = "[" + limits + "]";
        fields.erase("database"); // compared by key instead
        return fields;
    };
    const auto a = field_map(existing);
    const auto b = field_map(requested);
    for (const auto& [key, value] : a)
        if (b.at(key) != value)
            differences.push_back(std::string(key)
                                      .append(" is ")
                                      .append(value)
                                      .append(" in the existing pool, ")
                                      .append(b.at(key))
                                      .append(" requested"));
    return differences;
}

// Two hooks are the same when both are unset, or both are the same function pointer, or both hold
// a closure of the same type (the same lambda expression): closures cannot be compared further.
template <class Signature>
bool same_hook(const std::function<Signature>& a, const std::function<Signature>& b) {
    if (!a || !b) return !a && !b;
    if (a.target_type() != b.target_type()) return false;
    if (const auto* pointer = a.template target<Signature*>())
        return *pointer == *b.template target<Signature*>();
    return true;
}

// The hooks (on_connect, listener, authorizer) that differ, named as config_differences() does.
inline std::vector<std::string> hook_differences(const pool_config& existing, const pool_config& requested) {
    std::vector<std::string> differences;
    const auto differ = [&](const char* name, bool same, bool existing_set, bool requested_set) {
        if (same) return;
        std::string text = std::string(name) + " differs: ";
        if (existing_set != requested_set)
            text += std::string(existing_set ? "set" : "unset") + " in the existing pool, " +
                    (requested_set ? "set" : "unset") + " requested";
        else
            text += "the existing pool has another one than requested";
        differences.push_back(std::move(text));
    };
    differ("on_connect", same_hook(existing.on_connect, requested.on_connect), bool(existing.on_connect),
           bool(requested.on_connect));
    differ("listener", existing.listener == requested.listener, existing.listener != nullptr,
           requested.listener != nullptr);
    differ("authorizer", same_hook(existing.authorizer, requested.authorizer), bool(existing.authorizer),
           bool(requested.authorizer));
    return differences;
}

} // namespace sqlpool::detail

export namespace sqlpool {

// Pools keyed by database: relative and absolute spellings, `./`, `..` and symlinks of one SQLite
// file share one pool, as do the spellings of one PostgreSQL conninfo (keyword order, URI or
// keyword/value form). Thread-safe. Pools are shared_ptrs: a pool that close() removed
// stays valid for whoever still holds it (and refuses new acquires).
template <class Pool = pool>
class basic_pool_manager {
public:
    basic_pool_manager() = default;
    basic_pool_manager(const basic_pool_manager&) = delete;
    basic_pool_manager& operator=(const basic_pool_manager&) = delete;
    basic_pool_manager(basic_pool_manager&&) = delete;
    basic_pool_manager& operator=(basic_pool_manager&&) = delete;
    ~basic_pool_manager() { close_all(); }

    // The pool for config.database, created from `config` when there is none. A config that
    // differs from the existing pool's is a config_error naming each differing field's two values.
    // Concurrent calls for one path create exactly one pool; the pool opens outside the manager's lock.
    std::shared_ptr<Pool> get_or_create(const pool_config& config) {
        const std::string key = key_of(config.database);
        std::promise<std::shared_ptr<Pool>> promise;
        std::shared_future<std::shared_ptr<Pool>> existing;
        {
            std::lock_guard lock(mutex_);
            if (auto found = pools_.find(key); found != pools_.end()) {
                auto differences = detail::config_differences(found->second.config, config);
                std::ranges::move(detail::hook_differences(found->second.config, config),
                                  std::back_inserter(differences));
                if (!differences.empty()) {
                    differences.insert(differences.begin(),
                                       "a pool for '" + key + "' exists with another configuration");
                    throw config_error(std::move(differences));
                }
                existing = found->second.pool;
            } else {
                pools_.emplace(key, entry{config, promise.get_future().share()});
            }
        }
        // Created, or being created, by another thread: wait outside the lock.
        if (existing.valid()) return existing.get();
        try {
            auto created = std::make_shared<Pool>(config);
            promise.set_value(created);
            return created;
        } catch (...) {
            promise.set_exception(std::current_exception());
            std::lock_guard lock(mutex_);
            pools_.erase(key);
            throw;
        }
    }

    // The pool for `database` (any spelling), or nullptr.
    [[nodiscard]] std::shared_ptr<Pool> find(const std::string& database) const {
        std::shared_future<std::shared_ptr<Pool>> pending;
        {
            std::lock_guard lock(mutex_);
            const auto found = pools_.find(key_of(database));
            if (found == pools_.end()) return nullptr;
            pending = found->second.pool;
        }
        try {
            return pending.get();
        } catch (...) {
            return nullptr; // its creation failed
        }
    }

    // Closes and forgets the pool for `database`; false when there was none.
    bool close(const std::string& database) {
        std::shared_future<std::shared_ptr<Pool>> pending;
        {
            std::lock_guard lock(mutex_);
            const auto found = pools_.find(key_of(database));
            if (found == pools_.end()) return false;
            pending = found->second.pool;
            pools_.erase(found);
        }
        close_one(pending);
        return true;
    }

    void close_all() {
        std::map<std::string, entry> closing;
        {
            std::lock_guard lock(mutex_);
            closing.swap(pools_);
        }
        for (auto& [key, e] : closing) close_one(e.pool);
    }

    [[nodiscard]] std::size_t size() const {
        std::lock_guard lock(mutex_);
        return pools_.size();
    }

private:
    static std::string key_of(const std::string& database) {
        return database_traits<typename Pool::source_type>::key(database);
    }

    struct entry {
        pool_config config;
        std::shared_future<std::shared_ptr<Pool>> pool;
    };

    static void close_one(const std::shared_future<std::shared_ptr<Pool>>& pending) {
        try {
            if (const auto& p = pending.get()) p->close();
        } catch (...) {
            // Deliberately ignored: a pool whose creation failed has nothing to close.
        }
    }

    mutable std::mutex mutex_;
    std::map<std::string, entry> pools_;
};

using pool_manager = basic_pool_manager<>;

} // namespace sqlpool
