// The database layer against a real MariaDB: pool, statement cache, transactions, retries,
// error classification, reconnect after a server crash, migrations and inkstone-admin.
#include "lib/db/db.h"

#include <cppconn/connection.h>
#include <cppconn/exception.h>
#include <cppconn/prepared_statement.h>
#include <cppconn/resultset.h>
#include <cppconn/statement.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <iostream>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "lib/db/migrate.h"
#include "tests/harness/mariadb.h"
#include "tests/harness/process.h"

namespace {

using inkstone::lib::base::DbConfig;
using inkstone::lib::db::Classify;
using inkstone::lib::db::DbError;
using inkstone::lib::db::ErrorKind;
using inkstone::lib::db::Lease;
using inkstone::lib::db::Pool;
using inkstone::lib::db::Rethrow;
using inkstone::lib::db::RetryOnAborted;
using inkstone::lib::db::SplitSqlStatements;
using inkstone::lib::db::Transaction;
using inkstone::testing::MakeTempDir;
using inkstone::testing::MariaDb;
using inkstone::testing::Process;
using inkstone::testing::ReadFile;
using inkstone::testing::RemoveTree;
using inkstone::testing::WriteFile;
using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

constexpr const char* kSelectOne = "SELECT 1";
constexpr const char* kConnectionId = "SELECT CONNECTION_ID()";
constexpr const char* kSelectOther = "SELECT 2";
constexpr const char* kInsertRow = "INSERT INTO tx_rows (id, v) VALUES (?, ?)";
constexpr const char* kBumpRow = "UPDATE deadlock_rows SET v = v + 1 WHERE id = ?";
constexpr const char* kLockRow = "SELECT v FROM lock_rows WHERE id = ? FOR UPDATE";
constexpr const char* kUpdateLockedRow = "UPDATE lock_rows SET v = v + 1 WHERE id = ?";

MariaDb* g_db = nullptr;
std::string g_root;

class DbEnvironment : public ::testing::Environment {
  public:
    void SetUp() override {
        g_root = MakeTempDir("inkstone-db-test-");
        g_db = new MariaDb(g_root + "/mariadb");
        try {
            g_db->Start();
        } catch (const std::exception& e) {
            delete g_db;
            g_db = nullptr;
            RemoveTree(g_root);
            FAIL() << e.what();  // fatal in the environment: gtest skips every test
        }
        std::cout << "[ harness  ] MariaDb::Start() bootstrap took "
                  << g_db->last_start_duration().count() << " ms\n";
    }
    void TearDown() override {
        delete g_db;
        g_db = nullptr;
        RemoveTree(g_root);
    }
};

[[maybe_unused]] const auto* const kEnvironment =
    ::testing::AddGlobalTestEnvironment(new DbEnvironment);

DbConfig TestConfig(int pool_size = 4, int acquire_timeout_ms = 2000) {
    DbConfig config = g_db->AppConfig();
    config.pool_size = pool_size;
    config.acquire_timeout_ms = acquire_timeout_ms;
    return config;
}

int64_t ConnectionId(Lease& lease) {
    std::unique_ptr<sql::ResultSet> rs(lease.Prepare(kConnectionId).executeQuery());
    EXPECT_TRUE(rs->next());
    return rs->getInt64(1);
}

std::string ScalarAsRoot(const std::string& sql) {
    const auto rows = g_db->Query(sql);
    if (rows.empty() || rows[0].empty()) return "";
    return rows[0][0];
}

std::string ScalarOn(Lease& lease, const std::string& sql) {
    std::unique_ptr<sql::Statement> stmt(lease.conn().createStatement());
    std::unique_ptr<sql::ResultSet> rs(stmt->executeQuery(sql));
    EXPECT_TRUE(rs->next());
    return rs->getString(1);
}

/// Lets `count` threads meet once; waits at most 10 s so a bug fails instead of hanging.
class Rendezvous {
  public:
    explicit Rendezvous(int count) : remaining_(count) {}
    void ArriveAndWait() {
        std::unique_lock<std::mutex> lock(mu_);
        if (--remaining_ == 0) cv_.notify_all();
        cv_.wait_for(lock, std::chrono::seconds(10), [this] { return remaining_ <= 0; });
    }

  private:
    std::mutex mu_;
    std::condition_variable cv_;
    int remaining_;
};

// ---- pool ----

TEST(PoolTest, ConnectsLazilyAndReusesIdleConnection) {
    Pool pool(TestConfig(2));
    EXPECT_EQ(pool.size(), 2);
    EXPECT_EQ(pool.in_use(), 0);
    int64_t first = 0;
    {
        Lease lease = pool.Acquire();
        EXPECT_EQ(pool.in_use(), 1);
        first = ConnectionId(lease);
    }
    EXPECT_EQ(pool.in_use(), 0);
    Lease again = pool.Acquire();
    EXPECT_EQ(ConnectionId(again), first);
}

// A draining worker keeps one idle connection per request thread it has left
// (fcgi/application.h): the rest close on the server, now and as leases come back.
TEST(PoolTest, LimitIdleClosesTheExtraConnectionsNowAndOnReturn) {
    Pool pool(TestConfig(3));
    // How many of `ids` the server still has once it reaches `expected` (it ends a closed
    // session a moment after the client's COM_QUIT), or after 2 s.
    const auto alive = [](const std::vector<int64_t>& ids, int expected) {
        std::string list;
        for (int64_t id : ids) list += (list.empty() ? "" : ",") + std::to_string(id);
        int count = -1;
        for (int i = 0; i < 40 && count != expected; ++i) {
            if (i > 0) std::this_thread::sleep_for(std::chrono::milliseconds(50));
            count =
                std::stoi(g_db->Query("SELECT COUNT(*) FROM information_schema.PROCESSLIST "
                                      "WHERE ID IN (" +
                                      list + ")")[0][0]);
        }
        return count;
    };
    std::vector<int64_t> ids;
    {
        Lease a = pool.Acquire();
        Lease b = pool.Acquire();
        Lease c = pool.Acquire();
        ids = {ConnectionId(a), ConnectionId(b), ConnectionId(c)};
    }
    EXPECT_EQ(alive(ids, 3), 3);
    pool.LimitIdle(2);
    pool.LimitIdle(5);  // never raises it again
    EXPECT_EQ(alive(ids, 2), 2);
    {
        Lease a = pool.Acquire();
        Lease b = pool.Acquire();
        Lease c = pool.Acquire();  // connects anew: the pool's size is unchanged
        ids = {ConnectionId(a), ConnectionId(b), ConnectionId(c)};
        pool.LimitIdle(1);
    }
    EXPECT_EQ(pool.in_use(), 0);
    EXPECT_EQ(alive(ids, 1), 1);
    Lease kept = pool.Acquire();
    EXPECT_EQ(alive({ConnectionId(kept)}, 1), 1);
}

TEST(PoolTest, ExhaustedPoolTimesOutWithUnavailable) {
    Pool pool(TestConfig(2, 300));
    Lease a = pool.Acquire();
    Lease b = pool.Acquire();
    EXPECT_NE(ConnectionId(a), ConnectionId(b));
    EXPECT_EQ(pool.in_use(), 2);
    const auto start = Clock::now();
    try {
        Lease c = pool.Acquire();
        FAIL() << "third lease from a pool of 2";
    } catch (const DbError& e) {
        EXPECT_EQ(e.kind, ErrorKind::kUnavailable);
    }
    const auto waited = Clock::now() - start;
    EXPECT_GE(waited, milliseconds(280));
    EXPECT_LT(waited, milliseconds(2000));
}

TEST(PoolTest, WaiterGetsConnectionWhenOneIsReturned) {
    Pool pool(TestConfig(1, 5000));
    auto held = std::make_unique<Lease>(pool.Acquire());
    const int64_t id = ConnectionId(*held);
    std::thread releaser([&] {
        std::this_thread::sleep_for(milliseconds(150));
        held.reset();
    });
    const auto start = Clock::now();
    Lease next = pool.Acquire();
    EXPECT_GE(Clock::now() - start, milliseconds(100));
    releaser.join();
    EXPECT_EQ(ConnectionId(next), id);
}

TEST(PoolTest, UnreachableServerIsUnavailableQuickly) {
    DbConfig config = TestConfig(1);
    config.port = inkstone::testing::FreePort();  // nothing listens there
    Pool pool(config);                            // lazy: constructing does not connect
    const auto start = Clock::now();
    try {
        Lease lease = pool.Acquire();
        FAIL() << "connected to a closed port";
    } catch (const DbError& e) {
        EXPECT_EQ(e.kind, ErrorKind::kUnavailable);
        // libmariadb reports a refused TCP connect as 2002 (CR_CONNECTION_ERROR), libmysqlclient
        // as 2003.
        EXPECT_TRUE(e.code == 2002 || e.code == 2003) << e.what();
    }
    EXPECT_LT(Clock::now() - start, milliseconds(3000));
    EXPECT_EQ(pool.in_use(), 0);
    EXPECT_FALSE(pool.Ping());
}

// db.hosts: a dead first host is skipped (and counted), then tried last for kHostPenalty; a
// plain server (no Galera) counts as ready; db.sync_wait does nothing there.
TEST(PoolTest, HostListSkipsADeadHostAndTriesItLast) {
    DbConfig config = TestConfig(2);
    const int dead = inkstone::testing::FreePort();
    config.hosts =
        "127.0.0.1:" + std::to_string(dead) + ",127.0.0.1:" + std::to_string(config.port);
    config.sync_wait = true;
    Pool pool(config);
    {
        Lease lease = pool.Acquire();
        EXPECT_GT(ConnectionId(lease), 0);
        EXPECT_EQ(lease.Query(kSelectOne).Next(), true);
    }
    EXPECT_EQ(pool.stats().host_failures.load(), 1u);
    EXPECT_EQ(pool.current_host(), "127.0.0.1:" + std::to_string(config.port));
    // Within the penalty the dead host is tried after the live one: no second failure.
    Lease a = pool.Acquire();
    Lease b = pool.Acquire();
    EXPECT_NE(ConnectionId(a), ConnectionId(b));
    EXPECT_EQ(pool.stats().host_failures.load(), 1u);
    EXPECT_EQ(pool.stats().host_failovers.load(), 0u);  // one host used so far
}

TEST(PoolTest, HostListWithNoLiveHostIsUnavailable) {
    DbConfig config = TestConfig(1);
    config.hosts = "127.0.0.1:" + std::to_string(inkstone::testing::FreePort()) +
                   ",127.0.0.1:" + std::to_string(inkstone::testing::FreePort());
    Pool pool(config);
    try {
        Lease lease = pool.Acquire();
        FAIL() << "connected to closed ports";
    } catch (const DbError& e) {
        EXPECT_EQ(e.kind, ErrorKind::kUnavailable);
        EXPECT_NE(std::string(e.what()).find("every host"), std::string::npos) << e.what();
    }
    EXPECT_EQ(pool.stats().host_failures.load(), 2u);
    EXPECT_EQ(pool.in_use(), 0);
}

TEST(PoolTest, KilledConnectionIsDroppedAndReplaced) {
    Pool pool(TestConfig(2));
    int64_t id = 0;
    {
        Lease lease = pool.Acquire();
        id = ConnectionId(lease);
        g_db->Exec("KILL CONNECTION " + std::to_string(id));
        try {
            std::unique_ptr<sql::ResultSet> rs(lease.Prepare(kSelectOne).executeQuery());
            FAIL() << "statement on a killed connection succeeded";
        } catch (const sql::SQLException& e) {
            EXPECT_EQ(Classify(e), ErrorKind::kUnavailable) << e.getErrorCode() << e.what();
            EXPECT_THROW(Rethrow(e, &lease), DbError);
        }
    }
    EXPECT_EQ(pool.in_use(), 0);
    Lease lease = pool.Acquire();
    EXPECT_NE(ConnectionId(lease), id);
}

TEST(PoolTest, SessionIsConfigured) {
    Pool pool(TestConfig(1));
    Lease lease = pool.Acquire();
    EXPECT_EQ(ScalarOn(lease, "SELECT @@session.time_zone"), "+00:00");
    EXPECT_EQ(ScalarOn(lease, "SELECT @@session.tx_isolation"), "READ-COMMITTED");
    const std::string mode = ScalarOn(lease, "SELECT @@session.sql_mode");
    for (const char* flag : {"STRICT_ALL_TABLES", "NO_ZERO_DATE", "NO_ENGINE_SUBSTITUTION",
                             "ERROR_FOR_DIVISION_BY_ZERO"}) {
        EXPECT_NE(mode.find(flag), std::string::npos) << mode;
    }
    EXPECT_EQ(ScalarOn(lease, "SELECT @@character_set_client"), "utf8mb4");
    EXPECT_EQ(ScalarOn(lease, "SELECT @@autocommit"), "1");
    // Multi-statements are off: a stacked query is a syntax error, not two statements.
    std::unique_ptr<sql::Statement> stmt(lease.conn().createStatement());
    try {
        stmt->execute("SELECT 1; SELECT 2");
        FAIL() << "multi-statement accepted";
    } catch (const sql::SQLException& e) {
        EXPECT_EQ(e.getErrorCode(), 1064);
    }
}

// ---- prepared statement cache ----

int64_t StatementsPrepared(Lease& lease) {
    std::unique_ptr<sql::Statement> stmt(lease.conn().createStatement());
    std::unique_ptr<sql::ResultSet> rs(
        stmt->executeQuery("SHOW SESSION STATUS LIKE 'Com_stmt_prepare'"));
    EXPECT_TRUE(rs->next());
    return rs->getInt64(2);
}

TEST(LeaseTest, PreparedStatementsAreCachedPerConnection) {
    Pool pool(TestConfig(1));
    sql::PreparedStatement* first = nullptr;
    {
        Lease lease = pool.Acquire();
        const int64_t before = StatementsPrepared(lease);
        first = &lease.Prepare(kSelectOne);
        EXPECT_EQ(&lease.Prepare(kSelectOne), first);
        EXPECT_NE(&lease.Prepare(kSelectOther), first);
        std::unique_ptr<sql::ResultSet> rs(lease.Prepare(kSelectOne).executeQuery());
        ASSERT_TRUE(rs->next());
        EXPECT_EQ(rs->getInt(1), 1);
        EXPECT_EQ(StatementsPrepared(lease) - before, 2);  // kSelectOne and kSelectOther once
    }
    Lease again = pool.Acquire();  // the same connection, cache included
    const int64_t before = StatementsPrepared(again);
    EXPECT_EQ(&again.Prepare(kSelectOne), first);
    EXPECT_EQ(StatementsPrepared(again), before);
}

// ---- transactions ----

class TransactionTest : public ::testing::Test {
  protected:
    void SetUp() override {
        g_db->Exec("DROP TABLE IF EXISTS inkstone.tx_rows");
        g_db->Exec(
            "CREATE TABLE inkstone.tx_rows (id INT PRIMARY KEY, v INT NOT NULL) "
            "ENGINE=InnoDB");
    }
    static std::string Count() { return ScalarAsRoot("SELECT COUNT(*) FROM inkstone.tx_rows"); }
};

TEST_F(TransactionTest, RollsBackUnlessCommitted) {
    Pool pool(TestConfig(1));
    Lease lease = pool.Acquire();
    {
        Transaction tx(lease, "test.rollback");
        sql::PreparedStatement& insert = tx.lease().Prepare(kInsertRow);
        insert.setInt(1, 1);
        insert.setInt(2, 10);
        EXPECT_EQ(insert.executeUpdate(), 1);
        // START TRANSACTION, not autocommit switched off.
        EXPECT_EQ(ScalarOn(lease, "SELECT @@in_transaction"), "1");
        EXPECT_EQ(ScalarOn(lease, "SELECT @@autocommit"), "1");
        EXPECT_EQ(Count(), "0");  // invisible to others before commit
    }
    EXPECT_EQ(Count(), "0");
    EXPECT_EQ(ScalarOn(lease, "SELECT @@in_transaction"), "0");
    EXPECT_EQ(ScalarOn(lease, "SELECT @@autocommit"), "1");
}

TEST_F(TransactionTest, CommitsWhenCommitted) {
    Pool pool(TestConfig(1));
    Lease lease = pool.Acquire();
    {
        Transaction tx(lease, "test.commit");
        sql::PreparedStatement& insert = tx.lease().Prepare(kInsertRow);
        insert.setInt(1, 1);
        insert.setInt(2, 10);
        insert.executeUpdate();
        tx.Commit();
    }
    EXPECT_EQ(Count(), "1");
    EXPECT_TRUE(lease.conn().getAutoCommit());
}

TEST_F(TransactionTest, LeaseReturnedMidTransactionComesBackClean) {
    Pool pool(TestConfig(1));
    int64_t id = 0;
    {
        Lease lease = pool.Acquire();
        id = ConnectionId(lease);
        lease.conn().setAutoCommit(false);
        sql::PreparedStatement& insert = lease.Prepare(kInsertRow);
        insert.setInt(1, 7);
        insert.setInt(2, 70);
        insert.executeUpdate();
    }
    Lease lease = pool.Acquire();
    EXPECT_EQ(ConnectionId(lease), id);  // the same connection, cleaned
    EXPECT_TRUE(lease.conn().getAutoCommit());
    EXPECT_EQ(ScalarOn(lease, "SELECT @@autocommit"), "1");
    EXPECT_EQ(ScalarOn(lease, "SELECT @@in_transaction"), "0");
    EXPECT_EQ(ScalarOn(lease, "SELECT COUNT(*) FROM tx_rows"), "0");
    EXPECT_EQ(Count(), "0");
}

TEST_F(TransactionTest, RetryOnAbortedCommitsAndPropagatesOtherErrors) {
    Pool pool(TestConfig(2));
    const int value = RetryOnAborted(pool, "test.insert", [](Transaction& tx) {
        sql::PreparedStatement& insert = tx.lease().Prepare(kInsertRow);
        insert.setInt(1, 1);
        insert.setInt(2, 11);
        insert.executeUpdate();
        return 11;
    });
    EXPECT_EQ(value, 11);
    EXPECT_EQ(Count(), "1");

    EXPECT_THROW(RetryOnAborted(pool, "test.throws",
                                [](Transaction& tx) {
                                    sql::PreparedStatement& insert = tx.lease().Prepare(kInsertRow);
                                    insert.setInt(1, 2);
                                    insert.setInt(2, 22);
                                    insert.executeUpdate();
                                    throw std::logic_error("business rule says no");
                                }),
                 std::logic_error);
    EXPECT_EQ(Count(), "1");
    EXPECT_EQ(pool.in_use(), 0);

    try {
        RetryOnAborted(pool, "test.duplicate", [](Transaction& tx) {
            sql::PreparedStatement& insert = tx.lease().Prepare(kInsertRow);
            insert.setInt(1, 1);
            insert.setInt(2, 12);
            insert.executeUpdate();
        });
        FAIL() << "duplicate key accepted";
    } catch (const DbError& e) {
        EXPECT_EQ(e.kind, ErrorKind::kDuplicate);
        EXPECT_EQ(e.code, 1062);
    }
}

// Statements the server counted on this connection so far (the SHOW itself included).
int64_t SessionQuestions(Lease& lease) {
    std::unique_ptr<sql::Statement> stmt(lease.conn().createStatement());
    std::unique_ptr<sql::ResultSet> rs(stmt->executeQuery("SHOW SESSION STATUS LIKE 'Questions'"));
    EXPECT_TRUE(rs->next());
    return rs->getInt64(2);
}

TEST_F(TransactionTest, TransactionCostsOneRoundTripEachSideAndInsertReturnsItsId) {
    Pool pool(TestConfig(1));
    Lease lease = pool.Acquire();
    const int64_t before = SessionQuestions(lease);
    {
        Transaction tx(lease, "test.count");
        tx.Execute(kInsertRow, 1, 10);
        tx.Commit();
    }
    // START TRANSACTION, the INSERT, COMMIT, and the second SHOW.
    EXPECT_EQ(SessionQuestions(lease) - before, 4);
    EXPECT_EQ(Count(), "1");

    g_db->Exec(
        "CREATE TABLE IF NOT EXISTS inkstone.auto_rows (id BIGINT UNSIGNED AUTO_INCREMENT "
        "PRIMARY KEY, v INT NOT NULL) ENGINE=InnoDB");
    constexpr const char* kInsertAuto = "INSERT INTO auto_rows (v) VALUES (?)";
    const int64_t first = lease.Insert(kInsertAuto, 5);
    const int64_t at = SessionQuestions(lease);
    const int64_t second = lease.Insert(kInsertAuto, 6);
    // MariaDB: `INSERT ... RETURNING id`, one round trip (and the SHOW).
    EXPECT_EQ(SessionQuestions(lease) - at, 2);
    EXPECT_GT(first, 0);
    EXPECT_EQ(second, first + 1);
    EXPECT_EQ(ScalarAsRoot("SELECT v FROM inkstone.auto_rows WHERE id = " + std::to_string(second)),
              "6");
    // LastInsertId() agrees with what Insert() returned.
    EXPECT_EQ(lease.LastInsertId(), second);
}

// The server drops a pooled connection while it is idle (a restart, KILL, wait_timeout): the
// next read on it is run again on a fresh connection, and so is a transaction that had not
// reached COMMIT, whole; an autocommit write is not (it may have been applied).
TEST_F(TransactionTest, DroppedPooledConnectionIsRetriedWhenSafe) {
    using inkstone::lib::db::Rows;
    using inkstone::lib::db::WithLease;
    Pool pool(TestConfig(1));
    const auto connection_id = [](Lease& lease) {
        Rows rows = lease.Query("SELECT CONNECTION_ID() AS id");
        EXPECT_TRUE(rows.Next());
        return rows.Int("id");
    };
    const auto kill = [](int64_t id) { g_db->Exec("KILL CONNECTION " + std::to_string(id)); };

    // A read.
    const int64_t first = WithLease(pool, connection_id);
    kill(first);
    const int64_t second = WithLease(pool, connection_id);
    EXPECT_NE(second, first);
    EXPECT_EQ(pool.in_use(), 0);

    // A transaction cut after its first write: rolled back by the server, then run again whole.
    int runs = 0;
    RetryOnAborted(pool, "test.dropped", [&](Transaction& tx) {
        ++runs;
        tx.Execute(kInsertRow, 1, 10);
        if (runs == 1) kill(connection_id(tx.lease()));
        tx.Execute(kInsertRow, 2, 20);
    });
    EXPECT_EQ(runs, 2);
    EXPECT_EQ(Count(), "2");

    // The idle connection killed before the transaction even starts: START TRANSACTION fails,
    // the transaction runs once on a fresh connection.
    kill(WithLease(pool, connection_id));
    runs = 0;
    RetryOnAborted(pool, "test.dropped_idle", [&](Transaction& tx) {
        ++runs;
        tx.Execute(kInsertRow, 3, 30);
    });
    EXPECT_EQ(runs, 1);
    EXPECT_EQ(Count(), "3");

    // An autocommit write is not retried: the caller sees UNAVAILABLE.
    kill(WithLease(pool, connection_id));
    runs = 0;
    try {
        WithLease(pool, [&](Lease& lease) {
            ++runs;
            return lease.Execute(kInsertRow, 4, 40);
        });
        ADD_FAILURE() << "a write on a dropped connection succeeded";
    } catch (const DbError& e) {
        EXPECT_EQ(e.kind, ErrorKind::kUnavailable);
        EXPECT_FALSE(e.retry_on_fresh_connection);
    }
    EXPECT_EQ(runs, 1);
    EXPECT_EQ(Count(), "3");

    // A statement on a connection made for this very lease is not retried either: the server
    // is the problem, not a stale connection.
    try {
        WithLease(pool, [&](Lease& lease) {
            kill(connection_id(lease));
            return connection_id(lease);
        });
        ADD_FAILURE() << "a read on a killed fresh connection succeeded";
    } catch (const DbError& e) {
        EXPECT_EQ(e.kind, ErrorKind::kUnavailable);
    }

    // The health check asks a fresh connection rather than report a stale one.
    kill(WithLease(pool, connection_id));
    EXPECT_TRUE(pool.Ping());
    EXPECT_EQ(pool.in_use(), 0);
}

TEST(RetryTest, DeadlockIsRetriedUntilBothCommit) {
    g_db->Exec("DROP TABLE IF EXISTS inkstone.deadlock_rows");
    g_db->Exec(
        "CREATE TABLE inkstone.deadlock_rows (id INT PRIMARY KEY, v INT NOT NULL) "
        "ENGINE=InnoDB");
    g_db->Exec("INSERT INTO inkstone.deadlock_rows VALUES (1, 0), (2, 0)");
    Pool pool(TestConfig(4));
    std::atomic<int> attempts{0};
    Rendezvous both_hold_first_row(2);
    std::vector<std::string> failures(2);

    auto worker = [&](int index, int first, int second) {
        Pool::ThreadInit();
        try {
            RetryOnAborted(pool, "test.deadlock", [&](Transaction& tx) {
                const int attempt = attempts++;
                sql::PreparedStatement& bump = tx.lease().Prepare(kBumpRow);
                bump.setInt(1, first);
                bump.executeUpdate();
                // Only the two first attempts meet, so each holds one row and wants the other.
                if (attempt < 2) both_hold_first_row.ArriveAndWait();
                bump.setInt(1, second);
                bump.executeUpdate();
            });
        } catch (const std::exception& e) {
            failures[index] = e.what();
        }
        Pool::ThreadEnd();
    };
    std::thread a(worker, 0, 1, 2);
    std::thread b(worker, 1, 2, 1);
    a.join();
    b.join();
    EXPECT_EQ(failures[0], "");
    EXPECT_EQ(failures[1], "");
    EXPECT_GT(attempts.load(), 2) << "no deadlock happened, so nothing was retried";
    EXPECT_EQ(ScalarAsRoot("SELECT v FROM inkstone.deadlock_rows WHERE id = 1"), "2");
    EXPECT_EQ(ScalarAsRoot("SELECT v FROM inkstone.deadlock_rows WHERE id = 2"), "2");
}

// After a deadlock the server has rolled the victim's transaction back, and MariaDB runs its next
// statements outside any transaction (autocommit). A caller that caught the 1213 and went on
// would commit the rest of its unit piecemeal: lib/db refuses every later statement instead.
TEST(RetryTest, StatementsAfterADeadlockAreRefusedNotAutocommitted) {
    g_db->Exec("DROP TABLE IF EXISTS inkstone.deadlock_rows");
    g_db->Exec(
        "CREATE TABLE inkstone.deadlock_rows (id INT PRIMARY KEY, v INT NOT NULL) "
        "ENGINE=InnoDB");
    g_db->Exec("INSERT INTO inkstone.deadlock_rows VALUES (1, 0), (2, 0)");
    g_db->Exec("DROP TABLE IF EXISTS inkstone.tx_rows");
    g_db->Exec("CREATE TABLE inkstone.tx_rows (id INT PRIMARY KEY, v INT NOT NULL) ENGINE=InnoDB");
    Pool pool(TestConfig(4));
    Rendezvous both_hold_first_row(2);
    std::atomic<int> victims{0};
    std::vector<std::string> problems(2);
    auto worker = [&](int index, int first, int second) {
        Pool::ThreadInit();
        try {
            Lease lease = pool.Acquire();
            Transaction tx(lease, "test.deadlock_victim");
            tx.Execute(kBumpRow, first);
            both_hold_first_row.ArriveAndWait();
            bool victim = false;
            try {
                tx.Execute(kBumpRow, second);
            } catch (const DbError& e) {
                if (e.kind != ErrorKind::kAborted) throw;
                victim = true;
            }
            if (victim) {
                victims++;
                try {
                    tx.Execute(kInsertRow, 100 + index, 1);
                    problems[index] = "a statement after the deadlock was sent";
                } catch (const DbError& e) {
                    if (e.kind != ErrorKind::kAborted) problems[index] = e.what();
                }
                try {
                    tx.Commit();
                    problems[index] = "COMMIT after the deadlock was sent";
                } catch (const DbError& e) {
                    if (e.kind != ErrorKind::kAborted) problems[index] = e.what();
                }
            } else {
                tx.Commit();
            }
        } catch (const std::exception& e) {
            problems[index] = e.what();
        }
        Pool::ThreadEnd();
    };
    std::thread a(worker, 0, 1, 2);
    std::thread b(worker, 1, 2, 1);
    a.join();
    b.join();
    EXPECT_EQ(problems[0], "");
    EXPECT_EQ(problems[1], "");
    EXPECT_EQ(victims.load(), 1);
    EXPECT_EQ(ScalarAsRoot("SELECT COUNT(*) FROM inkstone.tx_rows"), "0");
    EXPECT_EQ(ScalarAsRoot("SELECT SUM(v) FROM inkstone.deadlock_rows"), "2");  // the winner's
    // The lease is clean again for its next user.
    Lease lease = pool.Acquire();
    EXPECT_TRUE(lease.Query(kSelectOne).Next());
}

TEST(ClassifyTest, LockWaitTimeoutIsAborted) {
    g_db->Exec("DROP TABLE IF EXISTS inkstone.lock_rows");
    g_db->Exec(
        "CREATE TABLE inkstone.lock_rows (id INT PRIMARY KEY, v INT NOT NULL) "
        "ENGINE=InnoDB");
    g_db->Exec("INSERT INTO inkstone.lock_rows VALUES (1, 0)");
    Pool pool(TestConfig(2));
    Lease holder = pool.Acquire();
    Transaction hold(holder, "test.hold");
    sql::PreparedStatement& lock = holder.Prepare(kLockRow);
    lock.setInt(1, 1);
    std::unique_ptr<sql::ResultSet> locked(lock.executeQuery());

    Lease waiter = pool.Acquire();
    std::unique_ptr<sql::Statement>(waiter.conn().createStatement())
        ->execute("SET SESSION innodb_lock_wait_timeout = 1");
    {
        Transaction tx(waiter, "test.wait");
        sql::PreparedStatement& update = waiter.Prepare(kUpdateLockedRow);
        update.setInt(1, 1);
        const auto start = Clock::now();
        try {
            update.executeUpdate();
            FAIL() << "update of a locked row succeeded";
        } catch (const sql::SQLException& e) {
            EXPECT_EQ(e.getErrorCode(), 1205);
            EXPECT_EQ(Classify(e), ErrorKind::kAborted);
            try {
                Rethrow(e, &waiter);
            } catch (const DbError& db) {
                EXPECT_EQ(db.kind, ErrorKind::kAborted);
                EXPECT_EQ(db.code, 1205);
            }
        }
        EXPECT_LT(Clock::now() - start, milliseconds(5000));
    }
    // The connection survived (aborted is not broken) and the session default comes back
    // on a new connection only, so drop this one.
    EXPECT_EQ(ScalarOn(waiter, "SELECT 1"), "1");
    waiter.MarkBroken();
}

TEST(ClassifyTest, ErrorNumbersMapToKinds) {
    auto kind = [](int code, const char* state = "HY000") {
        return Classify(sql::SQLException("test", state, code));
    };
    EXPECT_EQ(kind(1213), ErrorKind::kAborted);
    EXPECT_EQ(kind(1205), ErrorKind::kAborted);
    EXPECT_EQ(kind(1180), ErrorKind::kAborted);
    EXPECT_EQ(kind(1062), ErrorKind::kDuplicate);
    for (int code : {2002, 2003, 2006, 2013, 2055, 1927, 1053}) {
        EXPECT_EQ(kind(code), ErrorKind::kUnavailable) << code;
    }
    EXPECT_EQ(kind(0, "08S01"), ErrorKind::kUnavailable);
    // What Connector/C++ throws for any call on a connection after close().
    EXPECT_EQ(Classify(sql::SQLException("Connection has been closed", "HY000", 0)),
              ErrorKind::kUnavailable);
    EXPECT_EQ(kind(1064, "42000"), ErrorKind::kOther);
    EXPECT_EQ(kind(1146, "42S02"), ErrorKind::kOther);
}

// ---- migrations ----

TEST(SplitterTest, EdgeCases) {
    EXPECT_EQ(SplitSqlStatements(""), std::vector<std::string>{});
    EXPECT_EQ(SplitSqlStatements(" ;; \n ; "), std::vector<std::string>{});
    EXPECT_EQ(SplitSqlStatements("SELECT 1; SELECT 2"),
              (std::vector<std::string>{"SELECT 1", "SELECT 2"}));
    EXPECT_EQ(SplitSqlStatements("INSERT INTO t VALUES ('a;b', \"c;d\", `e;f`);"),
              std::vector<std::string>{"INSERT INTO t VALUES ('a;b', \"c;d\", `e;f`)"});
    // Escaped and doubled quotes stay inside the literal.
    EXPECT_EQ(SplitSqlStatements("SELECT 'it''s;', 'a\\';b', \"x\"\";\";SELECT 2"),
              (std::vector<std::string>{"SELECT 'it''s;', 'a\\';b', \"x\"\";\"", "SELECT 2"}));
    // A backslash is literal in backticks.
    EXPECT_EQ(SplitSqlStatements("SELECT `a\\`;SELECT 2"),
              (std::vector<std::string>{"SELECT `a\\`", "SELECT 2"}));
    // Comments (with semicolons) are dropped; comment-only chunks are no statements.
    EXPECT_EQ(SplitSqlStatements("-- one; two\nSELECT 1; # three; four\n/* five; six */ SELECT 2;"
                                 "\n-- trailing comment only\n"),
              (std::vector<std::string>{"SELECT 1", "SELECT 2"}));
    EXPECT_EQ(SplitSqlStatements("SELECT 1 /* a;\nb */ + 1;"),
              std::vector<std::string>{"SELECT 1   + 1"});
    // `--` without a following space is an operator, not a comment.
    EXPECT_EQ(SplitSqlStatements("SELECT 1--1;SELECT 2"),
              (std::vector<std::string>{"SELECT 1--1", "SELECT 2"}));
    EXPECT_EQ(SplitSqlStatements("SELECT 1 --\tcomment;\n;SELECT 2 --"),
              (std::vector<std::string>{"SELECT 1", "SELECT 2"}));
    // Executable comments are kept.
    EXPECT_EQ(SplitSqlStatements("CREATE TABLE t (a INT) /*!50100 ENGINE=InnoDB */;"),
              std::vector<std::string>{"CREATE TABLE t (a INT) /*!50100 ENGINE=InnoDB */"});
    // Unterminated quote or comment: the rest is one statement / dropped.
    EXPECT_EQ(SplitSqlStatements("SELECT 'a;b"), std::vector<std::string>{"SELECT 'a;b"});
    EXPECT_EQ(SplitSqlStatements("SELECT 1; /* open ; "), std::vector<std::string>{"SELECT 1"});
    EXPECT_EQ(SplitSqlStatements("SELECT 'ünï;cødé' ;\r\n"),
              std::vector<std::string>{"SELECT 'ünï;cødé'"});
}

class MigrateTest : public ::testing::Test {
  protected:
    void SetUp() override {
        dir_ = MakeTempDir("inkstone-migrations-");
        g_db->Exec("DROP TABLE IF EXISTS inkstone.schema_migrations");
        g_db->Exec("DROP TABLE IF EXISTS inkstone.mig_notes");
        g_db->Exec("DROP TABLE IF EXISTS inkstone.mig_tags");
    }
    void TearDown() override { RemoveTree(dir_); }
    void Write(const std::string& name, const std::string& text) {
        WriteFile(dir_ + "/" + name, text);
    }
    void WriteFirstTwo() {
        Write("001_notes.sql",
              "-- notes; the first table\n"
              "CREATE TABLE mig_notes (\n"
              "  id INT PRIMARY KEY,\n"
              "  body VARCHAR(100) NOT NULL  # free text; any\n"
              ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;\n"
              "INSERT INTO mig_notes VALUES (1, 'semi;colon'), (2, 'it''s \"quoted\";');\n");
        // Needs 001's table: proves the order.
        Write("002_note_extra.sql",
              "/* add a column; then use it */\n"
              "ALTER TABLE mig_notes ADD COLUMN extra INT NOT NULL DEFAULT 0;\n"
              "UPDATE mig_notes SET extra = 5 WHERE id = 2;\n");
        Write("notes.txt", "not a migration;");
        Write("01_short.sql", "SELECT no_such_column;");
        Write("003_Upper.sql", "SELECT no_such_column;");
    }
    std::string dir_;
};

TEST_F(MigrateTest, AppliesInOrderRecordsAndIsIdempotent) {
    WriteFirstTwo();
    Pool pool(TestConfig(1));
    auto result = inkstone::lib::db::ApplyMigrations(pool, dir_);
    EXPECT_EQ(result.applied, (std::vector<std::string>{"001_notes.sql", "002_note_extra.sql"}));
    EXPECT_TRUE(result.skipped.empty());
    EXPECT_EQ(ScalarAsRoot("SELECT body FROM inkstone.mig_notes WHERE id = 1"), "semi;colon");
    EXPECT_EQ(ScalarAsRoot("SELECT body FROM inkstone.mig_notes WHERE id = 2"), "it's \"quoted\";");
    EXPECT_EQ(ScalarAsRoot("SELECT extra FROM inkstone.mig_notes WHERE id = 2"), "5");

    const auto rows = g_db->Query(
        "SELECT version, name, checksum, applied_at IS NOT NULL "
        "FROM inkstone.schema_migrations ORDER BY version");
    ASSERT_EQ(rows.size(), 2u);
    EXPECT_EQ(rows[0][0], "1");
    EXPECT_EQ(rows[0][1], "001_notes.sql");
    EXPECT_EQ(rows[1][0], "2");
    EXPECT_EQ(rows[1][1], "002_note_extra.sql");
    EXPECT_EQ(rows[0][3], "1");
    // checksum is the SHA-256 of the file: compare with sha256sum.
    const std::string sums = dir_ + "/sums";
    Process sha({"sha256sum", dir_ + "/001_notes.sql"}, sums);
    ASSERT_TRUE(sha.Wait(milliseconds(10000)));
    EXPECT_EQ(ReadFile(sums).substr(0, 64), rows[0][2]);

    result = inkstone::lib::db::ApplyMigrations(pool, dir_);
    EXPECT_TRUE(result.applied.empty());
    EXPECT_EQ(result.skipped, (std::vector<std::string>{"001_notes.sql", "002_note_extra.sql"}));

    Write("004_tags.sql", "CREATE TABLE mig_tags (id INT PRIMARY KEY) ENGINE=InnoDB;");
    result = inkstone::lib::db::ApplyMigrations(pool, dir_);
    EXPECT_EQ(result.applied, std::vector<std::string>{"004_tags.sql"});
    EXPECT_EQ(ScalarAsRoot("SELECT COUNT(*) FROM inkstone.schema_migrations"), "3");
}

TEST_F(MigrateTest, ChangedChecksumIsAnErrorAndBlocksNewFiles) {
    WriteFirstTwo();
    Pool pool(TestConfig(1));
    inkstone::lib::db::ApplyMigrations(pool, dir_);
    Write("001_notes.sql", "CREATE TABLE mig_notes (id INT PRIMARY KEY);\n");
    Write("004_tags.sql", "CREATE TABLE mig_tags (id INT PRIMARY KEY) ENGINE=InnoDB;");
    try {
        inkstone::lib::db::ApplyMigrations(pool, dir_);
        FAIL() << "edited migration accepted";
    } catch (const std::runtime_error& e) {
        EXPECT_NE(std::string(e.what()).find("001_notes.sql"), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("changed"), std::string::npos) << e.what();
    }
    EXPECT_EQ(ScalarAsRoot("SELECT COUNT(*) FROM inkstone.schema_migrations"), "2");
    EXPECT_EQ(ScalarAsRoot("SELECT COUNT(*) FROM information_schema.TABLES "
                           "WHERE TABLE_SCHEMA = 'inkstone' AND TABLE_NAME = 'mig_tags'"),
              "0");
}

TEST_F(MigrateTest, FailingStatementNamesFileAndStatementAndIsNotRecorded) {
    Write("001_tags.sql",
          "CREATE TABLE mig_tags (id INT PRIMARY KEY) ENGINE=InnoDB;\n"
          "INSERT INTO mig_tags (id, nope) VALUES (1, 2);\n");
    Pool pool(TestConfig(1));
    try {
        inkstone::lib::db::ApplyMigrations(pool, dir_);
        FAIL() << "broken migration applied";
    } catch (const std::runtime_error& e) {
        const std::string what = e.what();
        EXPECT_NE(what.find("001_tags.sql"), std::string::npos) << what;
        EXPECT_NE(what.find("statement 2"), std::string::npos) << what;
    }
    EXPECT_EQ(ScalarAsRoot("SELECT COUNT(*) FROM inkstone.schema_migrations"), "0");
}

TEST_F(MigrateTest, DuplicateVersionIsAnError) {
    Write("001_a.sql", "SELECT 1;");
    Write("001_b.sql", "SELECT 1;");
    Pool pool(TestConfig(1));
    EXPECT_THROW(inkstone::lib::db::ApplyMigrations(pool, dir_), std::runtime_error);
}

// ---- inkstone-admin ----

struct AdminRun {
    int exit_code;
    std::string output;
};

AdminRun RunAdmin(const std::vector<std::string>& args, const DbConfig& db,
                  const std::string& sql_dir, const std::string& log) {
    std::vector<std::string> argv{std::string(INKSTONE_BINARY_DIR) + "/inkstone-admin"};
    argv.insert(argv.end(), args.begin(), args.end());
    Process admin(argv, log,
                  {{"DB_HOST", db.host},
                   {"DB_PORT", std::to_string(db.port)},
                   {"DB_USER", db.user},
                   {"DB_PASSWORD", db.password},
                   {"DB_NAME", db.name},
                   {"SQL_DIR", sql_dir}});
    EXPECT_TRUE(admin.Wait(milliseconds(60000)));
    const int status = admin.status();
    return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, ReadFile(log)};
}

TEST_F(MigrateTest, AdminMigrateAndCheckDb) {
    WriteFirstTwo();
    const DbConfig db = g_db->AppConfig();
    AdminRun run = RunAdmin({"migrate"}, db, dir_, dir_ + "/migrate.log");
    EXPECT_EQ(run.exit_code, 0) << run.output;
    EXPECT_NE(run.output.find("applied 001_notes.sql\n"), std::string::npos) << run.output;
    EXPECT_NE(run.output.find("applied 002_note_extra.sql\n"), std::string::npos) << run.output;

    run = RunAdmin({"migrate"}, db, dir_, dir_ + "/migrate-again.log");
    EXPECT_EQ(run.exit_code, 0) << run.output;
    EXPECT_EQ(run.output.find("applied 0"), std::string::npos) << run.output;

    run = RunAdmin({"check-db"}, db, dir_, dir_ + "/check.log");
    EXPECT_EQ(run.exit_code, 0) << run.output;

    DbConfig wrong = db;
    wrong.password = "wrong-secret-" + db.password;
    run = RunAdmin({"check-db"}, wrong, dir_, dir_ + "/check-wrong.log");
    EXPECT_EQ(run.exit_code, 1) << run.output;
    EXPECT_NE(run.output.find("Access denied"), std::string::npos) << run.output;
    EXPECT_EQ(run.output.find("wrong-secret"), std::string::npos) << run.output;

    run = RunAdmin({"no-such-command"}, db, dir_, dir_ + "/usage.log");
    EXPECT_EQ(run.exit_code, 2) << run.output;
}

// ---- server crash and restart (last: they take the shared server down) ----

std::set<int> g_codes_seen;

TEST(RestartTest, UnavailableWhileDownThenReconnectsAndReprepares) {
    DbConfig config = TestConfig(2);
    Pool pool(config);
    int64_t old_id = 0;
    {
        Lease a = pool.Acquire();
        Lease b = pool.Acquire();  // a second idle connection, to be found dead later
        old_id = ConnectionId(a);
        std::unique_ptr<sql::ResultSet> rs(a.Prepare(kSelectOne).executeQuery());
        ASSERT_TRUE(rs->next());
    }

    g_db->Kill();

    // An idle connection (used < 30 s ago, so not validated) fails on first use.
    auto start = Clock::now();
    try {
        Lease lease = pool.Acquire();
        try {
            std::unique_ptr<sql::ResultSet> rs(lease.Prepare(kSelectOne).executeQuery());
            FAIL() << "query on a dead server succeeded";
        } catch (const sql::SQLException& e) {
            g_codes_seen.insert(e.getErrorCode());
            std::cout << "[ codes    ] statement on killed server: " << e.getErrorCode() << " "
                      << e.getSQLState() << " " << e.what() << "\n";
            EXPECT_EQ(Classify(e), ErrorKind::kUnavailable) << e.getErrorCode() << " " << e.what();
            Rethrow(e, &lease);
        }
    } catch (const DbError& e) {
        EXPECT_EQ(e.kind, ErrorKind::kUnavailable);
    }
    EXPECT_LT(Clock::now() - start, std::chrono::seconds(config.connect_timeout_s + 1));
    EXPECT_EQ(pool.in_use(), 0);

    // Now the pool knows: the other idle connection is pinged, found dead, and the reconnect
    // is refused.
    start = Clock::now();
    try {
        Lease lease = pool.Acquire();
        FAIL() << "acquired a connection to a dead server";
    } catch (const DbError& e) {
        g_codes_seen.insert(e.code);
        std::cout << "[ codes    ] acquire while down: " << e.code << " " << e.what() << "\n";
        EXPECT_EQ(e.kind, ErrorKind::kUnavailable);
    }
    EXPECT_LT(Clock::now() - start, std::chrono::seconds(config.connect_timeout_s + 1));
    EXPECT_FALSE(pool.Ping());
    EXPECT_EQ(pool.in_use(), 0);

    const auto restart = Clock::now();
    g_db->Start();
    std::cout << "[ harness  ] restart after SIGKILL took "
              << std::chrono::duration_cast<milliseconds>(Clock::now() - restart).count()
              << " ms\n";

    Lease lease = pool.Acquire();
    std::unique_ptr<sql::ResultSet> rs(lease.Prepare(kSelectOne).executeQuery());
    ASSERT_TRUE(rs->next());
    EXPECT_EQ(rs->getInt(1), 1);
    EXPECT_NE(ConnectionId(lease), old_id);
    EXPECT_EQ(ScalarOn(lease, "SELECT @@session.tx_isolation"), "READ-COMMITTED");
}

TEST(RestartTest, QueryInFlightWhenServerDiesIsUnavailable) {
    Pool pool(TestConfig(2));
    Lease lease = pool.Acquire();
    ConnectionId(lease);
    std::thread killer([] {
        std::this_thread::sleep_for(milliseconds(300));
        g_db->Kill();
    });
    const auto start = Clock::now();
    try {
        std::unique_ptr<sql::Statement> stmt(lease.conn().createStatement());
        std::unique_ptr<sql::ResultSet> rs(stmt->executeQuery("SELECT SLEEP(20)"));
        FAIL() << "SLEEP survived the server";
    } catch (const sql::SQLException& e) {
        g_codes_seen.insert(e.getErrorCode());
        std::cout << "[ codes    ] query in flight: " << e.getErrorCode() << " " << e.getSQLState()
                  << " " << e.what() << "\n";
        EXPECT_EQ(Classify(e), ErrorKind::kUnavailable) << e.getErrorCode() << " " << e.what();
        lease.MarkBroken();
    }
    killer.join();
    EXPECT_LT(Clock::now() - start, std::chrono::seconds(5));
    g_db->Start();
    EXPECT_TRUE(pool.Ping());
}

TEST(RestartTest, StaleConnectionsAfterQuickRestartCostAtMostOneFailure) {
    Pool pool(TestConfig(3));
    {
        Lease a = pool.Acquire();
        Lease b = pool.Acquire();
        Lease c = pool.Acquire();
        ConnectionId(a);
        ConnectionId(b);
        ConnectionId(c);
    }
    g_db->Kill();
    g_db->Start();
    int failures = 0;
    bool ok = false;
    for (int i = 0; i < 4 && !ok; ++i) {
        try {
            Lease lease = pool.Acquire();
            try {
                std::unique_ptr<sql::ResultSet> rs(lease.Prepare(kSelectOne).executeQuery());
                ok = rs->next();
            } catch (const sql::SQLException& e) {
                g_codes_seen.insert(e.getErrorCode());
                std::cout << "[ codes    ] stale connection after restart: " << e.getErrorCode()
                          << " " << e.getSQLState() << " " << e.what() << "\n";
                EXPECT_EQ(Classify(e), ErrorKind::kUnavailable) << e.what();
                Rethrow(e, &lease);
            }
        } catch (const DbError& e) {
            ++failures;
        }
    }
    EXPECT_TRUE(ok);
    EXPECT_LE(failures, 1);
}

TEST(RestartTest, HungServerIsUnavailableWithinConnectTimeout) {
    DbConfig config = TestConfig(1);
    config.connect_timeout_s = 1;
    Pool pool(config);
    ASSERT_GT(g_db->pid(), 0);
    ASSERT_EQ(kill(g_db->pid(), SIGSTOP), 0);
    const auto start = Clock::now();
    try {
        Lease lease = pool.Acquire();
        ADD_FAILURE() << "connected to a stopped server";
    } catch (const DbError& e) {
        g_codes_seen.insert(e.code);
        std::cout << "[ codes    ] connect to a stopped server: " << e.code << " " << e.what()
                  << "\n";
        EXPECT_EQ(e.kind, ErrorKind::kUnavailable);
    }
    const auto waited = Clock::now() - start;
    ASSERT_EQ(kill(g_db->pid(), SIGCONT), 0);
    EXPECT_LT(waited, std::chrono::seconds(4));
    EXPECT_TRUE(pool.Ping());
    std::cout << "[ codes    ] all codes seen when the server died: ";
    for (int code : g_codes_seen) std::cout << code << " ";
    std::cout << "\n";
}

}  // namespace
