#pragma once
/// MySQL/MariaDB access on Connector/C++ 1.1: a connection pool sized apart from the request
/// threads, per-connection prepared-statement cache, reconnect after "server gone", an RAII
/// transaction guard and a retry helper for deadlocks / lock-wait timeouts.
///
/// Threading: construct the Pool before starting threads (get_driver_instance() is not
/// thread-safe). Every thread that touches the DB calls ThreadInit() once at start and
/// ThreadEnd() before it exits. A Lease is used by one thread at a time.
#include <cppconn/connection.h>
#include <cppconn/exception.h>
#include <cppconn/prepared_statement.h>
#include <cppconn/resultset.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

#include "lib/base/config.h"

namespace sql {
class Driver;
}

namespace inkstone::lib::db {

/// Abseil-style classes of failure.
enum class ErrorKind {
    kAborted,      ///< 1213 deadlock, 1205 lock wait timeout, Galera 1180/certification: retry the
                   ///< transaction
    kUnavailable,  ///< 2002/2003/2006/2013/... server gone or unreachable, pool exhausted: 503
    kDuplicate,    ///< 1062 duplicate key
    kOther,
};

ErrorKind Classify(const sql::SQLException& e);

/// A DB failure that escaped the data layer. The request loop maps kUnavailable to 503
/// UNAVAILABLE and everything else to 500 (logged; the SQL text never reaches a client).
struct DbError : std::runtime_error {
    ErrorKind kind;
    int code;
    DbError(ErrorKind k, int c, const std::string& what)
        : std::runtime_error(what), kind(k), code(c) {}
};

class Pool;

/// A pooled connection on loan. Returned to the pool (clean: autocommit on, no open
/// transaction) when destroyed; dropped instead if it was marked broken.
class Lease {
  public:
    Lease(Lease&&) noexcept;
    Lease& operator=(Lease&&) = delete;
    ~Lease();

    sql::Connection& conn();
    /// Cached per connection; re-prepared after a reconnect. `sql` must be a string constant
    /// (it is the cache key). The returned statement stays owned by the lease's connection.
    sql::PreparedStatement& Prepare(const char* sql);
    /// Called on an unrecoverable error: the connection is closed instead of pooled.
    void MarkBroken();

  private:
    friend class Pool;
    struct Slot;
    Lease(Pool* pool, std::unique_ptr<Slot> slot);
    Pool* pool_;
    std::unique_ptr<Slot> slot_;
};

class Pool {
  public:
    explicit Pool(const base::DbConfig& config);
    ~Pool();
    Pool(const Pool&) = delete;
    Pool& operator=(const Pool&) = delete;

    static void ThreadInit();
    static void ThreadEnd();

    /// Blocks up to acquire_timeout_ms for a free connection; connects lazily.
    /// Throws DbError(kUnavailable) when the server is unreachable or the pool stays exhausted.
    Lease Acquire();

    /// `SELECT 1` on a pooled connection; false (never throws) when the DB is down.
    bool Ping();

    int size() const { return size_; }
    int in_use() const;

  private:
    friend class Lease;
    std::unique_ptr<Lease::Slot> Connect();
    void Return(std::unique_ptr<Lease::Slot> slot, bool broken);

    base::DbConfig config_;
    sql::Driver* driver_;
    int size_;
    mutable std::mutex mu_;
    std::condition_variable cv_;
    std::vector<std::unique_ptr<Lease::Slot>> idle_;
    int open_ = 0;  ///< connections alive (idle + leased)
    int leased_ = 0;
};

/// RAII transaction: BEGIN on construction, ROLLBACK on destruction unless Commit() ran.
/// `name` ("credit.consume") appears in logs when a transaction is rolled back or retried.
class Transaction {
  public:
    Transaction(Lease& lease, std::string_view name);
    ~Transaction();
    Transaction(const Transaction&) = delete;
    Transaction& operator=(const Transaction&) = delete;
    void Commit();
    Lease& lease() { return lease_; }

  private:
    Lease& lease_;
    std::string name_;
    bool done_ = false;
};

/// Runs `fn(Transaction&)` in a fresh transaction on a fresh lease, commits if it returns, and
/// retries the whole thing (with jittered backoff) on ErrorKind::kAborted up to `attempts` times.
/// Other sql::SQLExceptions become DbError. Whatever fn throws otherwise (ApiError, ...)
/// rolls back and propagates.
template <class F>
auto RetryOnAborted(Pool& pool, std::string_view name, F&& fn, int attempts = 5)
    -> decltype(fn(std::declval<Transaction&>()));

/// Converts a SQLException into DbError (classified), marking the lease broken when the
/// server went away. Exposed for code that runs statements outside RetryOnAborted.
[[noreturn]] void Rethrow(const sql::SQLException& e, Lease* lease);

/// Runs `fn(Lease&)` on a pooled connection outside any transaction (autocommit): for single
/// statements and reads. SQL errors become DbError (the lease is dropped when the server went
/// away); whatever else fn throws propagates.
template <class F>
auto WithLease(Pool& pool, F&& fn) -> decltype(fn(std::declval<Lease&>())) {
    Lease lease = pool.Acquire();
    try {
        return fn(lease);
    } catch (const sql::SQLException& e) {
        Rethrow(e, &lease);
    }
}

/// `SELECT LAST_INSERT_ID()` on this lease: the AUTO_INCREMENT id of its last INSERT.
int64_t LastInsertId(Lease& lease);

/// A DATETIME column (UTC, as the application writes them) as a time point. Throws
/// std::runtime_error when it is NULL or unparsable (a schema bug, not input).
std::chrono::system_clock::time_point GetTime(sql::ResultSet& row, const char* column);
/// The same for a nullable column: nullopt for NULL.
std::optional<std::chrono::system_clock::time_point> GetOptionalTime(sql::ResultSet& row,
                                                                     const char* column);

/// Sleeps a jittered backoff for retry `attempt` (0-based).
void BackoffSleep(int attempt);

/// Logs (info, `db.tx.retry`) that transaction `name` is retried after `e`.
void LogRetry(std::string_view name, int attempt, const sql::SQLException& e);

template <class F>
auto RetryOnAborted(Pool& pool, std::string_view name, F&& fn, int attempts)
    -> decltype(fn(std::declval<Transaction&>())) {
    for (int attempt = 0;; ++attempt) {
        Lease lease = pool.Acquire();
        try {
            Transaction tx(lease, name);
            if constexpr (std::is_void_v<decltype(fn(tx))>) {
                fn(tx);
                tx.Commit();
                return;
            } else {
                auto result = fn(tx);
                tx.Commit();
                return result;
            }
        } catch (const sql::SQLException& e) {
            if (Classify(e) == ErrorKind::kAborted && attempt + 1 < attempts) {
                LogRetry(name, attempt, e);
                BackoffSleep(attempt);
                continue;
            }
            Rethrow(e, &lease);
        }
    }
}

}  // namespace inkstone::lib::db::db
