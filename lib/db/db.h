#pragma once
/// MySQL/MariaDB access on Connector/C++ 1.1: a connection pool sized apart from the request
/// threads, per-connection prepared-statement cache, reconnect after "server gone", an RAII
/// transaction guard and a retry helper for deadlocks / lock-wait timeouts.
///
/// A pooled connection the server dropped while it sat idle (a restart, a failover,
/// wait_timeout, KILL) fails its next statement with 2006/2013. WithLease and RetryOnAborted
/// then run their unit once more on a fresh connection, when that is safe: the connection came
/// from the idle pool, and nothing that may have taken effect was sent on it (no statement
/// through Execute/Insert outside a transaction, no COMMIT). A read, or a transaction that had
/// not reached COMMIT, is retried whole; an autocommit write or a failed COMMIT is not (the
/// server may have applied it) and surfaces as DbError(kUnavailable).
///
/// Several hosts (`db.hosts`, README "Scaling out"): each new connection goes to the first
/// host of the list that accepts it and, on a Galera node, reports `wsrep_ready = ON`; a host
/// that failed is tried last for kHostPenalty. A connection lost to a dead node fails as above
/// (503 or one retry on a fresh connection), and its replacement goes to the next host. With
/// `db.sync_wait`, reads outside a transaction wait for the node to apply what the cluster
/// committed before them (`SET STATEMENT wsrep_sync_wait = 1 FOR SELECT ...`): read-your-writes
/// across app hosts. A transaction waits once, as it starts (`SET STATEMENT wsrep_sync_wait = 1
/// FOR START TRANSACTION`), before it holds a row lock; its reads inside do not: a causality
/// wait there, with row locks held, can stall an applier that needs them until the wait times
/// out. A timed-out wait at the start is kUnavailable (the connection is dropped), not a retry.
///
/// Threading: construct the Pool before starting threads (get_driver_instance() is not
/// thread-safe). Every thread that touches the DB calls ThreadInit() once at start and
/// ThreadEnd() before it exits. A Lease is used by one thread at a time.
#include <atomic>
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

#include "lib/base/assert.h"
#include "lib/base/clock.h"
#include "lib/base/config.h"
#include "lib/base/errors.h"

// Connector/C++ stays inside lib/db: its headers are poisoned for every other layer
// (lib/poison.cmake). These declarations only name the types for the db layer's own helpers.
namespace sql {
class Connection;
class Driver;
class PreparedStatement;
class ResultSet;
class SQLException;
}  // namespace sql

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

/// Every DB failure, thrown by the statements below (the connector's own exceptions never leave
/// lib/db). The request loop answers kUnavailable and kAborted (retries exhausted) with 503
/// UNAVAILABLE and everything else with 500 (logged; the SQL text never reaches a client).
struct DbError : base::ServiceError {
    ErrorKind kind;
    int code;  ///< the MySQL / MariaDB error number, 0 for the connector's own errors
    /// The server dropped a connection taken from the idle pool before anything that may have
    /// taken effect was sent on it: running the unit again on a fresh connection is safe (see
    /// the file comment). Set by Rethrow; WithLease, RetryOnAborted and Ping act on it.
    bool retry_on_fresh_connection = false;
    DbError(ErrorKind k, int c, const std::string& what)
        : base::ServiceError(k == ErrorKind::kUnavailable || k == ErrorKind::kAborted
                                 ? base::ErrorCode::kUnavailable
                                 : base::ErrorCode::kInternal,
                             "db", c, what),
          kind(k),
          code(c) {}
};

/// How a value is written to a parameter; the binding templates below pick one per C++ type.
class Params {
  public:
    explicit Params(sql::PreparedStatement& stmt) : stmt_(stmt) {}
    void Int(int index, int64_t value);
    void UInt(int index, uint64_t value);
    void Double(int index, double value);
    void String(int index, std::string_view value);
    void Time(int index, base::TimePoint value);  ///< a DATETIME in UTC
    void Null(int index);

  private:
    sql::PreparedStatement& stmt_;
};

namespace detail {

template <class T>
struct IsOptional : std::false_type {};
template <class T>
struct IsOptional<std::optional<T>> : std::true_type {};
template <class T>
inline constexpr bool kAlwaysFalse = false;

/// One parameter. Enums are written as the text `ToSql(value)` returns (found by ADL next to
/// the enum); std::optional and std::nullopt become NULL when empty.
template <class T>
void Bind(Params& params, int index, const T& value) {
    if constexpr (std::is_same_v<T, std::nullopt_t>) {
        params.Null(index);
    } else if constexpr (IsOptional<T>::value) {
        if (value) {
            Bind(params, index, *value);
        } else {
            params.Null(index);
        }
    } else if constexpr (std::is_same_v<T, bool>) {
        params.Int(index, value ? 1 : 0);
    } else if constexpr (std::is_enum_v<T>) {
        params.String(index, ToSql(value));
    } else if constexpr (std::is_integral_v<T> && std::is_unsigned_v<T>) {
        params.UInt(index, static_cast<uint64_t>(value));
    } else if constexpr (std::is_integral_v<T>) {
        params.Int(index, static_cast<int64_t>(value));
    } else if constexpr (std::is_floating_point_v<T>) {
        params.Double(index, static_cast<double>(value));
    } else if constexpr (std::is_same_v<T, base::TimePoint>) {
        params.Time(index, value);
    } else if constexpr (std::is_convertible_v<const T&, std::string_view>) {
        params.String(index, std::string_view(value));
    } else {
        static_assert(kAlwaysFalse<T>, "no SQL binding for this type");
    }
}

template <class... A>
void BindAll(Params& params, const A&... args) {
    int index = 0;
    (Bind(params, ++index, args), ...);
}

}  // namespace detail

class Lease;
class Transaction;

/// Counters of one Pool (per process): the retry rate under contention and how often the pool
/// changed hosts. Each event is also logged (`db.tx.retry`, `db.tx.retries_exhausted`,
/// `db.host_failed`, `db.host_failover`), which is how the cluster tests count them across
/// worker processes.
struct PoolStats {
    std::atomic<uint64_t> transactions{0};       ///< RetryOnAborted units run
    std::atomic<uint64_t> aborted_retries{0};    ///< re-runs after kAborted (1213, 1205, ...)
    std::atomic<uint64_t> aborted_exhausted{0};  ///< units that were still aborted at the end
    std::atomic<uint64_t> host_failures{0};      ///< connects to a host that failed / not ready
    std::atomic<uint64_t> host_failovers{0};     ///< new connections to another host than the
                                                 ///< last one
};

/// Converts a SQLException into DbError (classified), marking the lease broken when the
/// server went away. For lib/db's own code.
[[noreturn]] void Rethrow(const sql::SQLException& e, Lease* lease);

/// The rows of one query, read forward: `while (rows.Next()) rows.Int("id")`. Columns are read
/// by name. A NULL read through a non-optional getter, an unparsable DATETIME or an enum text
/// that FromSql does not know is a broken invariant (INKSTONE_ASSERT: logged, 500), never a
/// silent default. Valid while its lease is.
class Rows {
  public:
    Rows(Rows&&) noexcept;
    Rows& operator=(Rows&&) noexcept;
    ~Rows();

    bool Next();
    bool IsNull(const char* column) const;
    int64_t Int(const char* column) const;
    std::optional<int64_t> OptionalInt(const char* column) const;
    double Double(const char* column) const;
    bool Bool(const char* column) const;  ///< a TINYINT / BOOLEAN, or any integer != 0
    std::string String(const char* column) const;
    std::optional<std::string> OptionalString(const char* column) const;
    base::TimePoint Time(const char* column) const;
    std::optional<base::TimePoint> OptionalTime(const char* column) const;
    /// An enum stored as text, parsed by `bool FromSql(std::string_view, E*)` (found by ADL).
    template <class E>
    E Enum(const char* column) const {
        const std::string text = String(column);
        E value{};
        if (!FromSql(text, &value)) UnknownValue(column, text);
        return value;
    }
    template <class E>
    std::optional<E> OptionalEnum(const char* column) const {
        if (IsNull(column)) return std::nullopt;
        return Enum<E>(column);
    }

  private:
    friend class Lease;
    Rows(Lease* lease, sql::ResultSet* result);
    [[noreturn]] void UnknownValue(const char* column, const std::string& text) const;
    Lease* lease_;
    std::unique_ptr<sql::ResultSet> result_;
};

class Pool;

/// A pooled connection on loan. Returned to the pool (clean: autocommit on, no open
/// transaction) when destroyed; dropped instead if it was marked broken.
///
/// Statements are named constants next to the function that runs them, bound by type:
///
///     constexpr char kDebitSql[] = "UPDATE users SET credits = credits - ? WHERE id = ?";
///     lease.Execute(kDebitSql, amount, user_id);        // rows affected
///     db::Rows rows = lease.Query(kSelectSql, user_id);
///
/// The number of arguments must equal the statement's `?` placeholders (checked: a mismatch is
/// a broken invariant). Every connector failure becomes a DbError (the lease is marked broken
/// when the server went away).
class Lease {
  public:
    Lease(Lease&&) noexcept;
    Lease& operator=(Lease&&) = delete;
    ~Lease();

    /// Runs an INSERT / UPDATE / DELETE; returns the affected rows.
    template <class... A>
    uint64_t Execute(const char* sql, const A&... args) {
        sql::PreparedStatement& stmt = PrepareFor(sql, sizeof...(A));
        Params params(stmt);
        detail::BindAll(params, args...);
        return RunUpdate(stmt);
    }
    /// Runs a SELECT (outside a transaction with `db.sync_wait`, after a causality wait).
    template <class... A>
    Rows Query(const char* sql, const A&... args) {
        sql::PreparedStatement& stmt = PrepareFor(sql, sizeof...(A), /*read=*/true);
        Params params(stmt);
        detail::BindAll(params, args...);
        return RunQuery(stmt);
    }
    /// Runs an INSERT of one row into a table whose AUTO_INCREMENT column is `id`, and returns
    /// that id. On MariaDB (10.5 and later) this is one round trip (`... RETURNING id`); on
    /// other servers the INSERT and then `SELECT LAST_INSERT_ID()`.
    template <class... A>
    int64_t Insert(const char* sql, const A&... args) {
        size_t placeholders = 0;
        sql::PreparedStatement* stmt = PrepareInsert(sql, &placeholders);
        INKSTONE_ASSERT(placeholders == sizeof...(A),
                        std::to_string(sizeof...(A)) + " arguments for " +
                            std::to_string(placeholders) + " placeholders in: " + sql);
        if (stmt == nullptr) {
            Execute(sql, args...);
            return LastInsertId();
        }
        Params params(*stmt);
        detail::BindAll(params, args...);
        return RunInsertReturning(*stmt);
    }
    /// The AUTO_INCREMENT id of this connection's last INSERT (`SELECT LAST_INSERT_ID()`: a
    /// round trip; Insert() needs none on MariaDB).
    int64_t LastInsertId();

    /// Runs `fn` once the transaction open on this lease commits (never when it rolls back, so
    /// a retried attempt's calls are dropped with it); at once outside a transaction, where the
    /// statements already committed. For effects outside the database that must follow only
    /// committed writes: metrics.
    void AfterCommit(std::function<void()> fn);

    /// For lib/db itself and its tests: the connector objects under this lease.
    sql::Connection& conn();
    /// Cached per connection; re-prepared after a reconnect. `sql` must be a string constant
    /// (it is the cache key). The returned statement stays owned by the lease's connection.
    sql::PreparedStatement& Prepare(const char* sql);
    /// Called on an unrecoverable error: the connection is closed instead of pooled.
    void MarkBroken();

  private:
    friend class Pool;
    friend class Rows;
    friend class Transaction;
    friend void Rethrow(const sql::SQLException& e, Lease* lease);
    struct Slot;
    Lease(Pool* pool, std::unique_ptr<Slot> slot);
    /// Prepare(), also telling the statement's placeholder count (counted once, cached).
    sql::PreparedStatement& PrepareCounted(const char* sql, size_t* placeholders);
    /// `read`: a SELECT, run after a causality wait when outside a transaction with sync_wait.
    sql::PreparedStatement& PrepareFor(const char* sql, size_t arguments, bool read = false);
    /// The `... RETURNING id` form of `sql`, cached; nullptr when the server cannot do it.
    sql::PreparedStatement* PrepareInsert(const char* sql, size_t* placeholders);
    uint64_t RunUpdate(sql::PreparedStatement& stmt);
    Rows RunQuery(sql::PreparedStatement& stmt);
    int64_t RunInsertReturning(sql::PreparedStatement& stmt);
    /// START TRANSACTION / COMMIT / ROLLBACK as plain text statements (one round trip each).
    void RunText(const char* sql);
    /// Throws DbError(kAborted) without sending anything when a statement of the open
    /// transaction failed as kAborted (see Slot::aborted_code).
    void RefuseIfAborted() const;
    Pool* pool_;
    std::unique_ptr<Slot> slot_;
    Transaction* transaction_ = nullptr;  ///< the transaction open on this lease, if any
};

/// The `?` placeholders of a statement, outside quoted strings and identifiers.
size_t CountPlaceholders(std::string_view sql);

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
    /// Keeps at most `max_idle` idle connections from now on (it only ever lowers the limit,
    /// so calls from several threads in any order end at the lowest): the extra ones close now, and
    /// a connection handed back beyond the limit closes instead of waiting in the pool. A draining
    /// worker sets it to the request threads it has left (fcgi/application.h), so the connections
    /// it no longer needs go back to the server while it finishes.
    void LimitIdle(int max_idle);
    PoolStats& stats() { return stats_; }
    /// "host:port" of the host new connections go to now ("" for a single host or socket).
    std::string current_host() const;

    /// How long a host that failed is tried only after the others.
    static constexpr std::chrono::seconds kHostPenalty{5};

  private:
    friend class Lease;
    struct Host {
        std::string host;
        int port = 0;
        std::chrono::steady_clock::time_point failed_until{};
    };
    std::unique_ptr<Lease::Slot> Connect();
    /// One connection attempt to host:port (tcp) or the socket; sets up the session.
    std::unique_ptr<Lease::Slot> ConnectTo(const std::string& url);
    /// Connect() over the host list: first ready host wins.
    std::unique_ptr<Lease::Slot> ConnectToList();
    void Return(std::unique_ptr<Lease::Slot> slot, bool broken);

    base::DbConfig config_;
    sql::Driver* driver_;
    int size_;
    mutable std::mutex mu_;
    std::condition_variable cv_;
    std::vector<std::unique_ptr<Lease::Slot>> idle_;
    int open_ = 0;  ///< connections alive (idle + leased)
    int max_idle_;  ///< LimitIdle(); size_ until then
    int leased_ = 0;
    std::vector<Host> hosts_;  ///< db.hosts; empty = host/port or socket
    int last_host_ = -1;       ///< the host the last new connection went to (guarded by mu_)
    PoolStats stats_;
};

/// RAII transaction: `START TRANSACTION` on construction, `ROLLBACK` on destruction unless
/// Commit() ran (`COMMIT`): one round trip each, and the session's autocommit is never switched.
/// `name` ("credit.consume") appears in logs when a transaction is rolled back or retried.
class Transaction {
  public:
    Transaction(Lease& lease, std::string_view name);
    ~Transaction();
    Transaction(const Transaction&) = delete;
    Transaction& operator=(const Transaction&) = delete;
    void Commit();
    Lease& lease() { return lease_; }

    template <class... A>
    uint64_t Execute(const char* sql, const A&... args) {
        return lease_.Execute(sql, args...);
    }
    template <class... A>
    Rows Query(const char* sql, const A&... args) {
        return lease_.Query(sql, args...);
    }
    template <class... A>
    int64_t Insert(const char* sql, const A&... args) {
        return lease_.Insert(sql, args...);
    }
    int64_t LastInsertId() { return lease_.LastInsertId(); }

  private:
    friend class Lease;
    Lease& lease_;
    std::string name_;
    bool done_ = false;
    std::vector<std::function<void()>> after_commit_;
};

/// Runs `fn(Transaction&)` in a fresh transaction on a fresh lease, commits if it returns, and
/// retries the whole thing (with jittered backoff) on ErrorKind::kAborted up to `attempts` times:
/// a deadlock or a Galera certification failure can surface on any statement or at COMMIT, so
/// the unit of retry is the transaction. Once more, at once, on a fresh connection when the
/// server had dropped the pooled one before COMMIT was sent (DbError::retry_on_fresh_connection).
/// Whatever else fn throws (ApiError, ...) rolls back and propagates. Once a statement failed
/// as kAborted the server has rolled the transaction back: every later statement of it, COMMIT
/// included, is refused (kAborted, not sent), so code that catches the error and goes on can
/// never commit the rest of the unit in autocommit.
template <class F>
auto RetryOnAborted(Pool& pool, std::string_view name, F&& fn, int attempts = 8)
    -> decltype(fn(std::declval<Transaction&>()));

/// Called in a catch block: a sql::SQLException in flight (from lib/db's own raw statements)
/// is rethrown as the DbError it classifies as; anything else is left alone (returns).
void TranslateCurrent(Lease* lease);

/// Counts (inkstone_db_transaction_retries_exhausted_total) a transaction that failed on its
/// last attempt.
void NoteRetriesExhausted();
/// Logs (info, `db.reconnect_retry`) that `unit` runs again on a fresh connection after `e`.
void LogReconnectRetry(std::string_view unit, const DbError& e);

/// Runs `fn(Lease&)` on a pooled connection outside any transaction (autocommit): for single
/// statements and reads. Runs fn once more on a fresh connection when the server had dropped
/// the pooled one before fn sent a write (DbError::retry_on_fresh_connection), so fn must not
/// have effects outside the database before its first write.
template <class F>
auto WithLease(Pool& pool, F&& fn) -> decltype(fn(std::declval<Lease&>())) {
    for (int attempt = 0;; ++attempt) {
        try {
            Lease lease = pool.Acquire();
            try {
                return fn(lease);
            } catch (const DbError&) {
                throw;
            } catch (...) {
                TranslateCurrent(&lease);
                throw;
            }
        } catch (const DbError& e) {
            if (attempt > 0 || !e.retry_on_fresh_connection) throw;
            LogReconnectRetry("lease", e);
        }
    }
}

/// `SELECT LAST_INSERT_ID()` on this lease: the AUTO_INCREMENT id of its last INSERT.
inline int64_t LastInsertId(Lease& lease) { return lease.LastInsertId(); }

/// Transitional (removed once every layer reads through Rows): DATETIME columns of a raw
/// result set.
std::chrono::system_clock::time_point GetTime(sql::ResultSet& row, const char* column);
std::optional<std::chrono::system_clock::time_point> GetOptionalTime(sql::ResultSet& row,
                                                                     const char* column);

/// Sleeps a jittered backoff for retry `attempt` (0-based).
void BackoffSleep(int attempt);

/// Logs (info, `db.tx.retry`) that transaction `name` is retried after `e`.
void LogRetry(std::string_view name, int attempt, const DbError& e);
/// Logs (warn, `db.tx.retries_exhausted`) that `name` was still aborted after `attempts` runs.
void LogRetriesExhausted(std::string_view name, int attempts, const DbError& e);

template <class F>
auto RetryOnAborted(Pool& pool, std::string_view name, F&& fn, int attempts)
    -> decltype(fn(std::declval<Transaction&>())) {
    bool reconnected = false;
    pool.stats().transactions.fetch_add(1, std::memory_order_relaxed);
    for (int attempt = 0;; ++attempt) {
        try {
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
            } catch (const DbError&) {
                throw;
            } catch (...) {
                TranslateCurrent(&lease);
                throw;
            }
        } catch (const DbError& e) {
            if (e.retry_on_fresh_connection && !reconnected) {
                reconnected = true;
                --attempt;  // not a deadlock: the transaction never ran to its end
                LogReconnectRetry(name, e);
                continue;
            }
            if (e.kind != ErrorKind::kAborted) throw;
            if (attempt + 1 >= attempts) {
                pool.stats().aborted_exhausted.fetch_add(1, std::memory_order_relaxed);
                LogRetriesExhausted(name, attempts, e);
                NoteRetriesExhausted();
                throw;
            }
            pool.stats().aborted_retries.fetch_add(1, std::memory_order_relaxed);
            LogRetry(name, attempt, e);
            BackoffSleep(attempt);
        }
    }
}

}  // namespace inkstone::lib::db
