#include "lib/db/db.h"

#include <cppconn/driver.h>
#include <cppconn/exception.h>
#include <cppconn/metadata.h>
#include <cppconn/prepared_statement.h>
#include <cppconn/resultset.h>
#include <cppconn/statement.h>

#include <atomic>
#include <cassert>
#include <cstdio>
#include <cstring>
#include <iterator>
#include <random>

#include "lib/base/assert.h"
#include "lib/base/clock.h"
#include "lib/base/log.h"
#include "lib/base/metrics.h"

namespace inkstone::lib::db {
namespace {

using Clock = std::chrono::steady_clock;

// READ COMMITTED: correctness rests on row locks (SELECT ... FOR UPDATE) and conditional
// UPDATEs whose affected-row count is checked, never on a REPEATABLE READ snapshot. It also
// takes fewer gap locks (fewer deadlocks) and is what Galera/TiDB behave closest to.
constexpr const char* kSetIsolation = "SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED";
// A lock wait must end (1205, retried as kAborted) well before the client read timeout would
// cut the connection; the server default of 50 s exceeds our 30 s read timeout.
constexpr const char* kSetSession =
    "SET time_zone = '+00:00', "
    "SESSION sql_mode = "
    "'STRICT_ALL_TABLES,NO_ZERO_DATE,NO_ENGINE_SUBSTITUTION,ERROR_FOR_DIVISION_BY_ZERO', "
    "SESSION innodb_lock_wait_timeout = 5";
constexpr const char* kPing = "SELECT 1";
constexpr const char* kLastInsertId = "SELECT LAST_INSERT_ID()";
// Text statements (no prepare): Connector/C++ 1.1's own commit()/rollback() need autocommit
// switched off first, which is a round trip more on each side of every transaction.
constexpr const char* kStartTransaction = "START TRANSACTION";
// db.sync_wait: a transaction's reads wait too, once, when it starts. Certification catches two
// writers of one row on two nodes, but not a read that decides on a row this node has not
// applied yet: a lagging node's transaction found an order just created through another node
// "unknown", and a start's fair-use counts missed generations started there.
constexpr const char* kStartTransactionSynced =
    "SET STATEMENT wsrep_sync_wait = 1 FOR START TRANSACTION";
constexpr const char* kCommit = "COMMIT";
constexpr const char* kRollback = "ROLLBACK";
constexpr const char* kReturningId = " RETURNING id";
// db.sync_wait: the causality wait for one autocommit read, no extra round trip.
constexpr const char* kSyncWaitPrefix = "SET STATEMENT wsrep_sync_wait = 1 FOR ";
// A Galera node (wsrep_on) takes queries only while wsrep_ready; a plain server has no such
// state (the variable is absent, or OFF without a provider).
constexpr const char* kShowWsrepOn = "SHOW GLOBAL VARIABLES LIKE 'wsrep_on'";
constexpr const char* kShowWsrepReady = "SHOW GLOBAL STATUS LIKE 'wsrep_ready'";

// A connection unused for this long may have been cut by wait_timeout, a proxy or a failover.
constexpr auto kValidateAfterIdle = std::chrono::seconds(30);

// Set by the first Pool; ThreadInit/ThreadEnd are static and must not call
// get_driver_instance() concurrently.
std::atomic<sql::Driver*> g_driver{nullptr};

// MySQL/MariaDB client and server error numbers (errmsg.h / mysqld_error.h).
constexpr int kErDupEntry = 1062;
constexpr int kErDupEntryWithKeyName = 1586;
constexpr int kErLockWaitTimeout = 1205;
constexpr int kErLockDeadlock = 1213;
constexpr int kErErrorDuringCommit = 1180;  // Galera: certification failure at commit
constexpr int kErConCount = 1040;           // too many connections
constexpr int kErUnknownCom = 1047;         // Galera: node not ready (WSREP not prepared)
constexpr int kErServerShutdown = 1053;
constexpr int kErConnectionKilled = 1927;          // MariaDB: KILL CONNECTION
constexpr int kErClientInteractionTimeout = 4031;  // MySQL 8: disconnected for inactivity
constexpr int kCrConnectionError = 2002;           // unix socket
constexpr int kCrConnHostError = 2003;             // TCP
constexpr int kCrServerGone = 2006;
constexpr int kCrServerLost = 2013;
constexpr int kCrServerLostExtended = 2055;
// TiDB: optimistic write conflict / transaction retryable; the client must retry the whole
// transaction, exactly like a deadlock.
constexpr int kTiDbWriteConflict = 9007;
constexpr int kTiDbRetryable = 8022;
constexpr int kTiDbSchemaChanged = 8028;
constexpr const char* kConnectorClosed = "Connection has been closed";

}  // namespace

struct Lease::Slot {
    struct Statement {
        std::unique_ptr<sql::PreparedStatement> stmt;
        size_t placeholders = 0;
    };
    std::unique_ptr<sql::Connection> conn;
    // Declared after `conn`, so destroyed before them: a statement must not outlive its
    // connection.
    std::unordered_map<const char*, Statement> statements;
    std::unordered_map<const char*, Statement> returning;  ///< Insert()'s `... RETURNING id`
    std::unordered_map<const char*, Statement> synced;     ///< reads with the causality wait
    std::unique_ptr<sql::Statement> text;                  ///< START TRANSACTION, COMMIT, ...
    Clock::time_point last_used = Clock::now();
    bool must_validate = false;
    bool broken = false;
    bool insert_returning = false;  ///< the server knows `INSERT ... RETURNING` (MariaDB 10.5+)
    bool sync_wait = false;         ///< db.sync_wait on a Galera node
    std::string host;               ///< "host:port" or the socket, for logs
    // Per lease (reset by Acquire): what decides whether a dropped connection may be retried.
    bool reused = false;                 ///< taken from the idle list, not connected for this lease
    bool sent_autocommit_write = false;  ///< Execute/Insert outside a transaction
    bool sent_commit = false;
    bool in_transaction = false;  ///< between START TRANSACTION and COMMIT / ROLLBACK
    /// A statement of the open transaction failed as kAborted: the server rolled the whole
    /// transaction back (a deadlock, a Galera certification failure or BF abort), and a further
    /// statement would run outside it, in autocommit (MariaDB, MDEV-36959), committing part of
    /// the unit on its own. Every statement but ROLLBACK is refused until the transaction ends.
    int aborted_code = 0;
};

namespace {

// Codes of a connection the server (or the network) cut: the statement may not have reached
// the server at all. A connection that never came up (2002/2003) is not among them.
bool IsDroppedConnection(int code) {
    switch (code) {
        case kCrServerGone:
        case kCrServerLost:
        case kCrServerLostExtended:
        case kErConnectionKilled:
        case kErClientInteractionTimeout:
            return true;
        default:
            return false;
    }
}

// "10.11.19-MariaDB-0+deb12u1": INSERT ... RETURNING exists since MariaDB 10.5.
bool ServerHasInsertReturning(const std::string& version) {
    if (version.find("MariaDB") == std::string::npos) return false;
    int major = 0, minor = 0;
    if (std::sscanf(version.c_str(), "%d.%d", &major, &minor) != 2) return false;
    return major > 10 || (major == 10 && minor >= 5);
}

}  // namespace

ErrorKind Classify(const sql::SQLException& e) {
    switch (e.getErrorCode()) {
        case kErLockDeadlock:
        case kErLockWaitTimeout:
        case kErErrorDuringCommit:
        case kTiDbWriteConflict:
        case kTiDbRetryable:
        case kTiDbSchemaChanged:
            return ErrorKind::kAborted;
        case kErDupEntry:
        case kErDupEntryWithKeyName:
            return ErrorKind::kDuplicate;
        case kErConCount:
        case kErUnknownCom:
        case kErServerShutdown:
        case kErConnectionKilled:
        case kErClientInteractionTimeout:
        case kCrConnectionError:
        case kCrConnHostError:
        case kCrServerGone:
        case kCrServerLost:
        case kCrServerLostExtended:
            return ErrorKind::kUnavailable;
        default:
            break;
    }
    // SQLSTATE class 08 is "connection exception" (covers the client library's other
    // connection failures without listing every number).
    if (e.getSQLState().compare(0, 2, "08") == 0) return ErrorKind::kUnavailable;
    // Connector/C++ 1.1 throws this (error 0, HY000) for any call on a closed connection; the
    // text is its only distinguishing mark.
    if (e.getErrorCode() == 0 && std::strcmp(e.what(), kConnectorClosed) == 0) {
        return ErrorKind::kUnavailable;
    }
    return ErrorKind::kOther;
}

void Rethrow(const sql::SQLException& e, Lease* lease) {
    const ErrorKind kind = Classify(e);
    if (kind == ErrorKind::kAborted && lease != nullptr && lease->slot_ != nullptr &&
        lease->slot_->in_transaction) {
        lease->slot_->aborted_code = e.getErrorCode();
    }
    if (kind == ErrorKind::kUnavailable && lease != nullptr) lease->MarkBroken();
    DbError error(kind, e.getErrorCode(), e.what());
    if (kind == ErrorKind::kUnavailable && lease != nullptr && lease->slot_ != nullptr) {
        const Lease::Slot& slot = *lease->slot_;
        error.retry_on_fresh_connection = IsDroppedConnection(e.getErrorCode()) && slot.reused &&
                                          !slot.sent_autocommit_write && !slot.sent_commit;
    }
    throw error;
}

void TranslateCurrent(Lease* lease) {
    try {
        throw;
    } catch (const sql::SQLException& e) {
        Rethrow(e, lease);
    } catch (...) {
    }
}

size_t CountPlaceholders(std::string_view sql) {
    size_t count = 0;
    char quote = 0;
    for (size_t i = 0; i < sql.size(); ++i) {
        const char c = sql[i];
        if (quote != 0) {
            if (c == '\\' && quote != '`') {
                ++i;
            } else if (c == quote) {
                quote = 0;
            }
        } else if (c == '\'' || c == '"' || c == '`') {
            quote = c;
        } else if (c == '?') {
            ++count;
        }
    }
    return count;
}

// ---- Params ----

void Params::Int(int index, int64_t value) { stmt_.setInt64(index, value); }
void Params::UInt(int index, uint64_t value) { stmt_.setUInt64(index, value); }
void Params::Double(int index, double value) { stmt_.setDouble(index, value); }
void Params::String(int index, std::string_view value) {
    stmt_.setString(index, sql::SQLString(value.data(), value.size()));
}
void Params::Time(int index, base::TimePoint value) {
    stmt_.setString(index, base::FormatSqlDateTime(value));
}
void Params::Null(int index) { stmt_.setNull(index, sql::DataType::VARCHAR); }

// ---- Rows ----

Rows::Rows(Lease* lease, sql::ResultSet* result) : lease_(lease), result_(result) {}
Rows::Rows(Rows&&) noexcept = default;
Rows& Rows::operator=(Rows&&) noexcept = default;
Rows::~Rows() = default;

bool Rows::Next() {
    try {
        return result_->next();
    } catch (const sql::SQLException& e) {
        Rethrow(e, lease_);
    }
}

bool Rows::IsNull(const char* column) const {
    try {
        return result_->isNull(column);
    } catch (const sql::SQLException& e) {
        Rethrow(e, lease_);
    }
}

int64_t Rows::Int(const char* column) const {
    const std::optional<int64_t> value = OptionalInt(column);
    INKSTONE_ASSERT(value.has_value(), std::string("NULL in column ") + column);
    return *value;
}

std::optional<int64_t> Rows::OptionalInt(const char* column) const {
    try {
        if (result_->isNull(column)) return std::nullopt;
        return result_->getInt64(column);
    } catch (const sql::SQLException& e) {
        Rethrow(e, lease_);
    }
}

double Rows::Double(const char* column) const {
    try {
        INKSTONE_ASSERT(!result_->isNull(column), std::string("NULL in column ") + column);
        return static_cast<double>(result_->getDouble(column));
    } catch (const sql::SQLException& e) {
        Rethrow(e, lease_);
    }
}

bool Rows::Bool(const char* column) const { return Int(column) != 0; }

std::string Rows::String(const char* column) const {
    std::optional<std::string> value = OptionalString(column);
    INKSTONE_ASSERT(value.has_value(), std::string("NULL in column ") + column);
    return std::move(*value);
}

std::optional<std::string> Rows::OptionalString(const char* column) const {
    try {
        if (result_->isNull(column)) return std::nullopt;
        return result_->getString(column).asStdString();
    } catch (const sql::SQLException& e) {
        Rethrow(e, lease_);
    }
}

base::TimePoint Rows::Time(const char* column) const {
    const std::optional<base::TimePoint> value = OptionalTime(column);
    INKSTONE_ASSERT(value.has_value(), std::string("NULL in DATETIME column ") + column);
    return *value;
}

std::optional<base::TimePoint> Rows::OptionalTime(const char* column) const {
    const std::optional<std::string> text = OptionalString(column);
    if (!text) return std::nullopt;
    const std::optional<base::TimePoint> t = base::ParseSqlDateTime(*text);
    INKSTONE_ASSERT(t.has_value(), std::string("unparsable DATETIME in column ") + column);
    return t;
}

void Rows::UnknownValue(const char* column, const std::string& text) const {
    INKSTONE_INVARIANT_FAILED(std::string("unknown value '") + text + "' in column " + column);
}

std::chrono::system_clock::time_point GetTime(sql::ResultSet& row, const char* column) {
    const std::optional<std::chrono::system_clock::time_point> t = GetOptionalTime(row, column);
    if (!t) throw std::runtime_error(std::string("NULL in DATETIME column ") + column);
    return *t;
}

std::optional<std::chrono::system_clock::time_point> GetOptionalTime(sql::ResultSet& row,
                                                                     const char* column) {
    if (row.isNull(column)) return std::nullopt;
    const std::optional<base::TimePoint> t =
        base::ParseSqlDateTime(row.getString(column).asStdString());
    if (!t) throw std::runtime_error(std::string("unparsable DATETIME in column ") + column);
    return t;
}

void BackoffSleep(int attempt) {
    thread_local std::mt19937 rng{std::random_device{}()};
    const int ceiling_ms = std::min(200, 5 << std::min(attempt, 6));
    std::uniform_int_distribution<int> jitter(ceiling_ms / 2, ceiling_ms);
    std::this_thread::sleep_for(std::chrono::milliseconds(jitter(rng)));
}

void LogReconnectRetry(std::string_view unit, const DbError& e) {
    Json::Value fields;
    fields["unit"] = std::string(unit);
    fields["code"] = e.code;
    base::Log(base::LogLevel::kInfo, "db.reconnect_retry", fields);
    base::metrics::Count("inkstone_db_transaction_retries_total",
                         {{"code", std::to_string(e.code)}});
}

void LogRetriesExhausted(std::string_view name, int attempts, const DbError& e) {
    Json::Value fields;
    fields["tx"] = std::string(name);
    fields["attempts"] = attempts;
    fields["code"] = e.code;
    base::Log(base::LogLevel::kWarn, "db.tx.retries_exhausted", fields);
}

void LogRetry(std::string_view name, int attempt, const DbError& e) {
    Json::Value fields;
    fields["tx"] = std::string(name);
    fields["attempt"] = attempt + 1;
    fields["code"] = e.code;
    base::Log(base::LogLevel::kInfo, "db.tx.retry", fields);
    base::metrics::Count("inkstone_db_transaction_retries_total",
                         {{"code", std::to_string(e.code)}});
}

void NoteRetriesExhausted() {
    base::metrics::Count("inkstone_db_transaction_retries_exhausted_total", {});
}

// ---- Lease ----

void Lease::RefuseIfAborted() const {
    if (slot_->in_transaction && slot_->aborted_code != 0) {
        throw DbError(ErrorKind::kAborted, slot_->aborted_code,
                      "statement after the transaction was aborted (error " +
                          std::to_string(slot_->aborted_code) + "): not sent");
    }
}

Lease::Lease(Pool* pool, std::unique_ptr<Slot> slot) : pool_(pool), slot_(std::move(slot)) {}

Lease::Lease(Lease&& other) noexcept : pool_(other.pool_), slot_(std::move(other.slot_)) {}

Lease::~Lease() {
    if (!slot_) return;
    const bool broken = slot_->broken;
    pool_->Return(std::move(slot_), broken);
}

sql::Connection& Lease::conn() {
    assert(slot_ && "use of a moved-from Lease");
    return *slot_->conn;
}

sql::PreparedStatement& Lease::Prepare(const char* sql) {
    size_t placeholders = 0;
    return PrepareCounted(sql, &placeholders);
}

sql::PreparedStatement& Lease::PrepareCounted(const char* sql, size_t* placeholders) {
    assert(slot_ && "use of a moved-from Lease");
    auto it = slot_->statements.find(sql);
    if (it == slot_->statements.end()) {
        Slot::Statement entry;
        entry.stmt.reset(slot_->conn->prepareStatement(sql));
        entry.placeholders = CountPlaceholders(sql);
        it = slot_->statements.emplace(sql, std::move(entry)).first;
    } else {
        // Parameters bound by the previous user of this statement must not leak into this one.
        it->second.stmt->clearParameters();
    }
    *placeholders = it->second.placeholders;
    return *it->second.stmt;
}

sql::PreparedStatement& Lease::PrepareFor(const char* sql, size_t arguments, bool read) {
    sql::PreparedStatement* stmt = nullptr;
    size_t placeholders = 0;
    try {
        if (read && slot_->sync_wait && !slot_->in_transaction) {
            auto it = slot_->synced.find(sql);
            if (it == slot_->synced.end()) {
                Slot::Statement entry;
                entry.stmt.reset(slot_->conn->prepareStatement(std::string(kSyncWaitPrefix) + sql));
                entry.placeholders = CountPlaceholders(sql);
                it = slot_->synced.emplace(sql, std::move(entry)).first;
            } else {
                it->second.stmt->clearParameters();
            }
            placeholders = it->second.placeholders;
            stmt = it->second.stmt.get();
        } else {
            stmt = &PrepareCounted(sql, &placeholders);
        }
    } catch (const sql::SQLException& e) {
        Rethrow(e, this);
    }
    INKSTONE_ASSERT(placeholders == arguments, std::to_string(arguments) + " arguments for " +
                                                   std::to_string(placeholders) +
                                                   " placeholders in: " + sql);
    return *stmt;
}

uint64_t Lease::RunUpdate(sql::PreparedStatement& stmt) {
    RefuseIfAborted();
    // Marked before it is sent: once it may have reached the server it must not be re-run.
    if (!slot_->in_transaction) slot_->sent_autocommit_write = true;
    try {
        return static_cast<uint64_t>(stmt.executeUpdate());
    } catch (const sql::SQLException& e) {
        Rethrow(e, this);
    }
}

Rows Lease::RunQuery(sql::PreparedStatement& stmt) {
    RefuseIfAborted();
    try {
        return Rows(this, stmt.executeQuery());
    } catch (const sql::SQLException& e) {
        Rethrow(e, this);
    }
}

sql::PreparedStatement* Lease::PrepareInsert(const char* sql, size_t* placeholders) {
    assert(slot_ && "use of a moved-from Lease");
    if (!slot_->insert_returning) {
        *placeholders = CountPlaceholders(sql);
        return nullptr;
    }
    auto it = slot_->returning.find(sql);
    if (it == slot_->returning.end()) {
        Slot::Statement entry;
        try {
            entry.stmt.reset(slot_->conn->prepareStatement(std::string(sql) + kReturningId));
        } catch (const sql::SQLException& e) {
            Rethrow(e, this);
        }
        entry.placeholders = CountPlaceholders(sql);
        it = slot_->returning.emplace(sql, std::move(entry)).first;
    } else {
        it->second.stmt->clearParameters();
    }
    *placeholders = it->second.placeholders;
    return it->second.stmt.get();
}

int64_t Lease::RunInsertReturning(sql::PreparedStatement& stmt) {
    RefuseIfAborted();
    if (!slot_->in_transaction) slot_->sent_autocommit_write = true;
    try {
        std::unique_ptr<sql::ResultSet> rs(stmt.executeQuery());
        INKSTONE_ASSERT(rs->next(), "INSERT ... RETURNING id returned no row");
        return static_cast<int64_t>(rs->getUInt64(1));
    } catch (const sql::SQLException& e) {
        Rethrow(e, this);
    }
}

void Lease::RunText(const char* sql) {
    assert(slot_ && "use of a moved-from Lease");
    if (!slot_->text) slot_->text.reset(slot_->conn->createStatement());
    slot_->text->execute(sql);
}

int64_t Lease::LastInsertId() {
    Rows row = Query(kLastInsertId);
    INKSTONE_ASSERT(row.Next(), "LAST_INSERT_ID() returned no row");
    try {
        return static_cast<int64_t>(row.result_->getUInt64(1));
    } catch (const sql::SQLException& e) {
        Rethrow(e, this);
    }
}

void Lease::MarkBroken() {
    if (slot_) slot_->broken = true;
}

// ---- Pool ----

Pool::Pool(const base::DbConfig& config)
    : config_(config),
      driver_(get_driver_instance()),
      size_(std::max(1, config.pool_size)),
      max_idle_(size_) {
    sql::Driver* expected = nullptr;
    g_driver.compare_exchange_strong(expected, driver_);
    // "a:1,b:2" (validated by the config reader; anything else here is a broken invariant).
    std::string_view list = config_.hosts;
    while (!list.empty()) {
        const size_t comma = list.find(',');
        const std::string_view item = list.substr(0, comma);
        list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
        const size_t colon = item.rfind(':');
        INKSTONE_ASSERT(colon != std::string_view::npos && colon > 0,
                        "db.hosts entry without host:port: " + std::string(item));
        Host host;
        host.host = std::string(item.substr(0, colon));
        host.port = std::stoi(std::string(item.substr(colon + 1)));
        hosts_.push_back(std::move(host));
    }
}

Pool::~Pool() {
    {
        std::lock_guard<std::mutex> lock(mu_);
        assert(leased_ == 0 && "Pool destroyed while connections are leased");
        idle_.clear();
    }
}

std::string Pool::current_host() const {
    std::lock_guard<std::mutex> lock(mu_);
    if (last_host_ < 0) return "";
    const Host& host = hosts_[static_cast<size_t>(last_host_)];
    return host.host + ":" + std::to_string(host.port);
}

void Pool::ThreadInit() {
    sql::Driver* driver = g_driver.load();
    (driver != nullptr ? driver : get_driver_instance())->threadInit();
}

void Pool::ThreadEnd() {
    sql::Driver* driver = g_driver.load();
    (driver != nullptr ? driver : get_driver_instance())->threadEnd();
}

int Pool::in_use() const {
    std::lock_guard<std::mutex> lock(mu_);
    return leased_;
}

std::unique_ptr<Lease::Slot> Pool::Connect() {
    if (!hosts_.empty()) return ConnectToList();
    return ConnectTo(config_.socket.empty()
                         ? "tcp://" + config_.host + ":" + std::to_string(config_.port)
                         : "unix://" + config_.socket);
}

std::unique_ptr<Lease::Slot> Pool::ConnectToList() {
    // The hosts in list order, those that failed within kHostPenalty after the others.
    std::vector<size_t> order;
    const auto now = Clock::now();
    {
        std::lock_guard<std::mutex> lock(mu_);
        for (size_t i = 0; i < hosts_.size(); ++i) {
            if (hosts_[i].failed_until <= now) order.push_back(i);
        }
        for (size_t i = 0; i < hosts_.size(); ++i) {
            if (hosts_[i].failed_until > now) order.push_back(i);
        }
    }
    std::string problems;
    int last_code = 0;
    for (const size_t i : order) {
        const std::string name = hosts_[i].host + ":" + std::to_string(hosts_[i].port);
        try {
            std::unique_ptr<Lease::Slot> slot = ConnectTo("tcp://" + name);
            int from = -1;
            {
                std::lock_guard<std::mutex> lock(mu_);
                hosts_[i].failed_until = {};
                if (last_host_ != static_cast<int>(i)) {
                    from = last_host_;
                    last_host_ = static_cast<int>(i);
                } else {
                    from = -2;  // unchanged
                }
            }
            if (from >= 0) {
                stats_.host_failovers.fetch_add(1, std::memory_order_relaxed);
                Json::Value fields;
                fields["from"] = hosts_[static_cast<size_t>(from)].host + ":" +
                                 std::to_string(hosts_[static_cast<size_t>(from)].port);
                fields["to"] = name;
                base::Log(base::LogLevel::kWarn, "db.host_failover", fields);
            }
            return slot;
        } catch (const DbError& e) {
            stats_.host_failures.fetch_add(1, std::memory_order_relaxed);
            {
                std::lock_guard<std::mutex> lock(mu_);
                hosts_[i].failed_until = Clock::now() + kHostPenalty;
            }
            Json::Value fields;
            fields["host"] = name;
            fields["code"] = e.code;
            base::Log(base::LogLevel::kWarn, "db.host_failed", fields);
            problems += (problems.empty() ? "" : "; ") + std::string(e.what());
            last_code = e.code;
        }
    }
    throw DbError(ErrorKind::kUnavailable, last_code,
                  "db connect failed on every host: " + problems);
}

std::unique_ptr<Lease::Slot> Pool::ConnectTo(const std::string& host) {
    sql::ConnectOptionsMap options;
    options["hostName"] = sql::SQLString(host);
    options["userName"] = sql::SQLString(config_.user);
    options["password"] = sql::SQLString(config_.password);
    options["schema"] = sql::SQLString(config_.name);
    options["OPT_CONNECT_TIMEOUT"] = config_.connect_timeout_s;
    options["OPT_READ_TIMEOUT"] = config_.read_timeout_s;
    options["OPT_WRITE_TIMEOUT"] = config_.read_timeout_s;
    // The client library's silent reconnect would lose session settings, prepared statements
    // and any open transaction; we drop the connection and reconnect ourselves instead.
    options["OPT_RECONNECT"] = false;
    options["CLIENT_MULTI_STATEMENTS"] = false;
    options["OPT_CHARSET_NAME"] = sql::SQLString("utf8mb4");

    auto slot = std::make_unique<Lease::Slot>();
    slot->host = host;
    bool galera = false;
    bool ready = true;
    try {
        slot->conn.reset(driver_->connect(options));
        std::unique_ptr<sql::Statement> stmt(slot->conn->createStatement());
        stmt->execute(kSetIsolation);
        stmt->execute(kSetSession);
        slot->insert_returning = ServerHasInsertReturning(
            slot->conn->getMetaData()->getDatabaseProductVersion().asStdString());
        if (!hosts_.empty() || config_.sync_wait) {
            // Two round trips, once per connection: only for a cluster's host list.
            std::unique_ptr<sql::ResultSet> on(stmt->executeQuery(kShowWsrepOn));
            galera = on->next() && on->getString(2).asStdString() == "ON";
            if (galera) {
                std::unique_ptr<sql::ResultSet> rs(stmt->executeQuery(kShowWsrepReady));
                ready = rs->next() && rs->getString(2).asStdString() == "ON";
            }
        }
    } catch (const sql::SQLException& e) {
        // Whatever the reason (down, refused, bad credentials), the caller can only answer 503.
        throw DbError(ErrorKind::kUnavailable, e.getErrorCode(),
                      "db connect to " + host + " failed: " + e.what());
    }
    if (!ready) {
        // A joining, donor or non-primary node: it would refuse (1047) or serve stale data.
        throw DbError(ErrorKind::kUnavailable, kErUnknownCom,
                      "db connect to " + host + ": Galera node not ready (wsrep_ready OFF)");
    }
    slot->sync_wait = config_.sync_wait && galera;
    return slot;
}

Lease Pool::Acquire() {
    const auto deadline = Clock::now() + std::chrono::milliseconds(config_.acquire_timeout_ms);
    std::unique_ptr<Lease::Slot> slot;
    bool reused = false;
    bool waited = false;
    {
        std::unique_lock<std::mutex> lock(mu_);
        for (;;) {
            if (!idle_.empty()) {
                // LIFO: the most recently used connection is the least likely to be stale.
                slot = std::move(idle_.back());
                idle_.pop_back();
                reused = true;
                break;
            }
            if (open_ < size_) {
                ++open_;  // reserve the place; connect outside the lock
                break;
            }
            if (!waited) {
                waited = true;
                base::metrics::Count("inkstone_db_pool_waits_total", {});
            }
            if (cv_.wait_until(lock, deadline) == std::cv_status::timeout && idle_.empty() &&
                open_ >= size_) {
                base::metrics::Count("inkstone_db_pool_timeouts_total", {});
                throw DbError(ErrorKind::kUnavailable, 0,
                              "db pool exhausted: no free connection within " +
                                  std::to_string(config_.acquire_timeout_ms) + " ms");
            }
        }
        ++leased_;
    }
    try {
        if (slot && (slot->must_validate || Clock::now() - slot->last_used > kValidateAfterIdle)) {
            bool alive = false;
            try {
                alive = slot->conn->isValid();
            } catch (const sql::SQLException&) {
            }
            if (!alive) slot.reset();
        }
        if (!slot) {
            slot = Connect();
            reused = false;
        }
    } catch (...) {
        std::lock_guard<std::mutex> lock(mu_);
        --open_;
        --leased_;
        cv_.notify_one();
        throw;
    }
    slot->must_validate = false;
    slot->reused = reused;
    slot->sent_autocommit_write = false;
    slot->sent_commit = false;
    slot->in_transaction = false;
    slot->aborted_code = 0;
    return Lease(this, std::move(slot));
}

void Pool::Return(std::unique_ptr<Lease::Slot> slot, bool broken) {
    if (!broken) {
        try {
            // A lease handed back mid-transaction (an exception between BEGIN and the guard, or
            // raw setAutoCommit(false)) must not leak its open transaction to the next user.
            if (slot->in_transaction) {
                std::unique_ptr<sql::Statement> stmt(slot->conn->createStatement());
                stmt->execute(kRollback);
                slot->in_transaction = false;
            }
            if (!slot->conn->getAutoCommit()) {
                slot->conn->rollback();
                slot->conn->setAutoCommit(true);
            }
        } catch (const sql::SQLException&) {
            broken = true;
        }
    }
    if (broken) {
        slot.reset();  // closes the connection, outside the lock
        std::lock_guard<std::mutex> lock(mu_);
        --open_;
        --leased_;
        // A broken connection usually means the server restarted or failed over: every idle
        // connection is suspect, so each gets a ping before its next use.
        for (auto& idle : idle_) idle->must_validate = true;
        cv_.notify_one();
        return;
    }
    slot->last_used = Clock::now();
    std::unique_lock<std::mutex> lock(mu_);
    --leased_;
    if (static_cast<int>(idle_.size()) >= max_idle_) {
        --open_;
        lock.unlock();
        cv_.notify_one();  // a waiter may connect anew now: the place is free
        slot.reset();      // closes the connection, outside the lock
        return;
    }
    idle_.push_back(std::move(slot));
    cv_.notify_one();
}

void Pool::LimitIdle(int max_idle) {
    std::vector<std::unique_ptr<Lease::Slot>> extra;
    {
        std::lock_guard<std::mutex> lock(mu_);
        max_idle_ = std::min(max_idle_, std::max(0, max_idle));
        if (static_cast<int>(idle_.size()) > max_idle_) {
            // The least recently used go (Acquire takes from the back).
            const auto last = idle_.end() - max_idle_;
            extra.assign(std::make_move_iterator(idle_.begin()), std::make_move_iterator(last));
            idle_.erase(idle_.begin(), last);
            open_ -= static_cast<int>(extra.size());
        }
    }
    if (!extra.empty()) cv_.notify_all();  // their places are free for a waiter to connect
    // `extra` closes its connections here, outside the lock.
}

bool Pool::Ping() {
    for (int attempt = 0; attempt < 2; ++attempt) {
        try {
            Lease lease = Acquire();
            try {
                std::unique_ptr<sql::ResultSet> rs(lease.Prepare(kPing).executeQuery());
                return rs->next();
            } catch (const sql::SQLException& e) {
                Rethrow(e, &lease);
            }
        } catch (const DbError& e) {
            // A stale pooled connection says nothing about the server: ask on a fresh one.
            if (!e.retry_on_fresh_connection) return false;
        }
    }
    return false;
}

// ---- Transaction ----

Transaction::Transaction(Lease& lease, std::string_view name) : lease_(lease), name_(name) {
    try {
        lease_.RunText(lease_.slot_->sync_wait ? kStartTransactionSynced : kStartTransaction);
    } catch (const sql::SQLException& e) {
        done_ = true;  // nothing to roll back
        if (lease_.slot_->sync_wait && e.getErrorCode() == kErLockWaitTimeout) {
            // The causality wait timed out (Galera answers it as a lock wait timeout): this
            // node lags. Not a deadlock to retry here: RetryOnAborted would wait on the same
            // node again and again. The connection goes, so a retry reaches a fresh one.
            lease_.MarkBroken();
            throw DbError(
                ErrorKind::kUnavailable, e.getErrorCode(),
                std::string("the causality wait at START TRANSACTION timed out: ") + e.what());
        }
        Rethrow(e, &lease_);
    }
    lease_.slot_->in_transaction = true;
    lease_.transaction_ = this;
    lease_.slot_->aborted_code = 0;
}

Transaction::~Transaction() {
    if (lease_.transaction_ == this) lease_.transaction_ = nullptr;
    if (done_) return;
    try {
        try {
            lease_.RunText(kRollback);
            lease_.slot_->in_transaction = false;
            lease_.slot_->aborted_code = 0;
        } catch (const sql::SQLException& e) {
            lease_.MarkBroken();
            Json::Value fields;
            fields["tx"] = name_;
            fields["code"] = e.getErrorCode();
            base::Log(base::LogLevel::kWarn, "db.tx.rollback_failed", fields);
            return;
        }
        Json::Value fields;
        fields["tx"] = name_;
        base::Log(base::LogLevel::kDebug, "db.tx.rollback", fields);
    } catch (...) {
        // Destructors run during unwinding; the lease is dropped if anything is in doubt.
        lease_.MarkBroken();
    }
}

void Transaction::Commit() {
    lease_.RefuseIfAborted();  // a COMMIT now would commit what ran after the abort
    // Marked before it is sent: a COMMIT whose answer was lost may have committed.
    lease_.slot_->sent_commit = true;
    try {
        lease_.RunText(kCommit);
    } catch (const sql::SQLException& e) {
        Rethrow(e, &lease_);
    }
    done_ = true;
    lease_.slot_->in_transaction = false;
    lease_.transaction_ = nullptr;
    for (const std::function<void()>& fn : after_commit_) fn();
}

void Lease::AfterCommit(std::function<void()> fn) {
    if (transaction_ != nullptr) {
        transaction_->after_commit_.push_back(std::move(fn));
    } else {
        fn();
    }
}

}  // namespace inkstone::lib::db
