// Typed statements (lib/db/db.h) against a real MariaDB: every bindable type round-trips, the
// argument count is checked against the placeholders, rows are read by column name, enums are
// parsed strictly, and every connector failure surfaces as a classified DbError.
#include <gtest/gtest.h>

#include <chrono>
#include <optional>
#include <string>

#include "lib/base/assert.h"
#include "lib/base/clock.h"
#include "lib/db/db.h"
#include "tests/harness/mariadb.h"
#include "tests/harness/process.h"

namespace inkstone::lib::db {

/// A stored enum for the tests, with its text form next to it (as every state enum has).
enum class Shade { kLight, kDark };

std::string_view ToSql(Shade shade) { return shade == Shade::kLight ? "LIGHT" : "DARK"; }

bool FromSql(std::string_view text, Shade* out) {
    if (text == "LIGHT") {
        *out = Shade::kLight;
    } else if (text == "DARK") {
        *out = Shade::kDark;
    } else {
        return false;
    }
    return true;
}

namespace {

using inkstone::testing::MakeTempDir;
using inkstone::testing::MariaDb;
using inkstone::testing::RemoveTree;

MariaDb* g_db = nullptr;
std::string g_root;

class TypedSqlEnvironment : public ::testing::Environment {
  public:
    void SetUp() override {
        g_root = MakeTempDir("inkstone-typed-sql-");
        g_db = new MariaDb(g_root + "/mariadb");
        g_db->Start();
        g_db->Exec(
            "CREATE TABLE inkstone.typed (id BIGINT UNSIGNED AUTO_INCREMENT PRIMARY KEY, "
            "n BIGINT NULL, u BIGINT UNSIGNED NULL, d DOUBLE NULL, flag TINYINT(1) NULL, "
            "s VARCHAR(64) NULL, t DATETIME(6) NULL, shade VARCHAR(8) NULL)");
    }
    void TearDown() override {
        delete g_db;
        g_db = nullptr;
        RemoveTree(g_root);
    }
};

[[maybe_unused]] const auto* const kEnvironment =
    ::testing::AddGlobalTestEnvironment(new TypedSqlEnvironment);

constexpr char kInsertSql[] =
    "INSERT INTO typed (n, u, d, flag, s, t, shade) VALUES (?, ?, ?, ?, ?, ?, ?)";
constexpr char kSelectSql[] = "SELECT id, n, u, d, flag, s, t, shade FROM typed WHERE id = ?";
constexpr char kQuotedSql[] = "SELECT 'what?' AS q, `id` FROM typed WHERE id = ? AND s <> '?'";

TEST(TypedSqlTest, EveryTypeRoundTripsAndNullsAreOptionals) {
    Pool pool(g_db->AppConfig());
    Lease lease = pool.Acquire();
    const base::TimePoint when = *base::ParseSqlDateTime("2026-12-02 08:30:15");
    const std::string text = "it's ?; DROP TABLE typed; -- 积分";
    ASSERT_EQ(lease.Execute(kInsertSql, int64_t{-42}, uint64_t{1} << 63, 2.5, true,
                            std::string_view(text), when, Shade::kDark),
              1u);
    const int64_t full = lease.LastInsertId();
    ASSERT_EQ(lease.Execute(kInsertSql, std::nullopt, std::optional<uint64_t>(), std::nullopt,
                            std::optional<bool>(), std::optional<std::string>(),
                            std::optional<base::TimePoint>(), std::optional<Shade>()),
              1u);
    const int64_t empty = lease.LastInsertId();
    EXPECT_EQ(empty, full + 1);

    Rows rows = lease.Query(kSelectSql, full);
    ASSERT_TRUE(rows.Next());
    EXPECT_EQ(rows.Int("n"), -42);
    EXPECT_EQ(rows.Double("d"), 2.5);
    EXPECT_TRUE(rows.Bool("flag"));
    EXPECT_EQ(rows.String("s"), text);
    EXPECT_EQ(rows.Time("t"), when);
    EXPECT_EQ(rows.Enum<Shade>("shade"), Shade::kDark);
    EXPECT_FALSE(rows.Next());

    Rows nulls = lease.Query(kSelectSql, empty);
    ASSERT_TRUE(nulls.Next());
    EXPECT_EQ(nulls.OptionalInt("n"), std::nullopt);
    EXPECT_EQ(nulls.OptionalString("s"), std::nullopt);
    EXPECT_EQ(nulls.OptionalTime("t"), std::nullopt);
    EXPECT_EQ(nulls.OptionalEnum<Shade>("shade"), std::nullopt);
    EXPECT_TRUE(nulls.IsNull("flag"));
}

constexpr char kInsertTimeSql[] = "INSERT INTO typed (t) VALUES (?)";
constexpr char kSelectTimeSql[] = "SELECT t FROM typed WHERE id = ?";
constexpr char kCountAfterSql[] = "SELECT COUNT(*) AS n FROM typed WHERE id = ? AND t > ?";

// DATETIME(6) keeps what the clock said: the fraction is written, read back, and compared,
// so a cut-off 1 µs before a row includes it and one at the row excludes it.
TEST(TypedSqlTest, TimesKeepTheirMicroseconds) {
    Pool pool(g_db->AppConfig());
    Lease lease = pool.Acquire();
    const base::TimePoint when =
        *base::ParseSqlDateTime("2026-12-02 08:30:15") + std::chrono::microseconds(123456);
    ASSERT_EQ(lease.Execute(kInsertTimeSql, when), 1u);
    const int64_t id = lease.LastInsertId();
    Rows rows = lease.Query(kSelectTimeSql, id);
    ASSERT_TRUE(rows.Next());
    EXPECT_EQ(rows.Time("t"), when);
    const auto count_after = [&](base::TimePoint cut) {
        Rows counted = lease.Query(kCountAfterSql, id, cut);
        EXPECT_TRUE(counted.Next());
        return counted.Int("n");
    };
    EXPECT_EQ(count_after(when - std::chrono::microseconds(1)), 1);
    EXPECT_EQ(count_after(when), 0);
    EXPECT_EQ(count_after(when - std::chrono::milliseconds(100)), 1);
}

TEST(TypedSqlTest, PlaceholdersInsideQuotesDoNotCount) {
    EXPECT_EQ(CountPlaceholders(kInsertSql), 7u);
    EXPECT_EQ(CountPlaceholders(kQuotedSql), 1u);
    EXPECT_EQ(CountPlaceholders("SELECT '\\'?' , \"?\", `?` , ?"), 1u);
    Pool pool(g_db->AppConfig());
    Lease lease = pool.Acquire();
    Rows rows = lease.Query(kQuotedSql, int64_t{0});
    EXPECT_FALSE(rows.Next());
}

TEST(TypedSqlTest, AWrongArgumentCountIsABrokenInvariantAndRunsNothing) {
    Pool pool(g_db->AppConfig());
    Lease lease = pool.Acquire();
    const uint64_t before = base::InvariantViolations();
    EXPECT_THROW(lease.Execute(kInsertSql, 1, 2, 3.0, true, "x", base::TimePoint()),
                 base::InvariantError);
    EXPECT_THROW(lease.Query(kSelectSql), base::InvariantError);
    EXPECT_EQ(base::InvariantViolations(), before + 2);
    Rows count = lease.Query("SELECT COUNT(*) AS c FROM typed WHERE s = 'x'");
    ASSERT_TRUE(count.Next());
    EXPECT_EQ(count.Int("c"), 0);
}

TEST(TypedSqlTest, UnknownEnumTextAndUnexpectedNullsAreBrokenInvariants) {
    Pool pool(g_db->AppConfig());
    Lease lease = pool.Acquire();
    ASSERT_EQ(lease.Execute(kInsertSql, 1, 1, 1.0, true, "enum", base::TimePoint(), Shade::kLight),
              1u);
    const int64_t id = lease.LastInsertId();
    for (const char* stored : {"GREY", "", "light", "LIGHT "}) {
        ASSERT_EQ(lease.Execute("UPDATE typed SET shade = ? WHERE id = ?", stored, id), 1u);
        Rows rows = lease.Query(kSelectSql, id);
        ASSERT_TRUE(rows.Next());
        EXPECT_THROW(rows.Enum<Shade>("shade"), base::InvariantError) << stored;
    }
    ASSERT_EQ(lease.Execute(kInsertSql, std::nullopt, std::nullopt, std::nullopt, std::nullopt,
                            std::nullopt, std::nullopt, std::nullopt),
              1u);
    Rows nulls = lease.Query(kSelectSql, lease.LastInsertId());
    ASSERT_TRUE(nulls.Next());
    EXPECT_THROW(nulls.Int("n"), base::InvariantError);
    EXPECT_THROW(nulls.String("s"), base::InvariantError);
    EXPECT_THROW(nulls.Time("t"), base::InvariantError);
}

TEST(TypedSqlTest, ConnectorFailuresAreClassifiedDbErrors) {
    Pool pool(g_db->AppConfig());
    Lease lease = pool.Acquire();
    lease.Execute("CREATE TABLE IF NOT EXISTS uniq (k VARCHAR(8) PRIMARY KEY)");
    lease.Execute("INSERT INTO uniq (k) VALUES (?)", "a");
    try {
        lease.Execute("INSERT INTO uniq (k) VALUES (?)", "a");
        ADD_FAILURE() << "a duplicate key was accepted";
    } catch (const DbError& e) {
        EXPECT_EQ(e.kind, ErrorKind::kDuplicate);
        EXPECT_EQ(e.code, 1062);
        EXPECT_EQ(e.public_code, base::ErrorCode::kInternal);
    }
    try {
        lease.Query("SELECT no_such_column FROM uniq WHERE k = ?", "a");
        ADD_FAILURE() << "a bad statement ran";
    } catch (const DbError& e) {
        EXPECT_EQ(e.kind, ErrorKind::kOther);
    }
    // The lease is still good after statement errors.
    Rows rows = lease.Query("SELECT COUNT(*) AS c FROM uniq");
    ASSERT_TRUE(rows.Next());
    EXPECT_EQ(rows.Int("c"), 1);
}

TEST(TypedSqlTest, RetryOnAbortedRunsTheWholeTransactionAgain) {
    Pool pool(g_db->AppConfig());
    int attempts = 0;
    const int64_t id = RetryOnAborted(pool, "test.retry", [&](Transaction& tx) {
        ++attempts;
        tx.Execute(kInsertSql, attempts, 0, 0.0, false, "retry", base::TimePoint(), Shade::kLight);
        const int64_t inserted = tx.LastInsertId();
        // A deadlock can surface on any statement or at COMMIT; the unit of retry is the
        // whole transaction, so the first attempt's row must be rolled back.
        if (attempts == 1) throw DbError(ErrorKind::kAborted, 1213, "simulated deadlock");
        return inserted;
    });
    EXPECT_EQ(attempts, 2);
    Lease lease = pool.Acquire();
    Rows rows = lease.Query("SELECT COUNT(*) AS c, MIN(n) AS n FROM typed WHERE s = 'retry'");
    ASSERT_TRUE(rows.Next());
    EXPECT_EQ(rows.Int("c"), 1);
    EXPECT_EQ(rows.Int("n"), 2);
    Rows mine = lease.Query(kSelectSql, id);
    EXPECT_TRUE(mine.Next());
}

}  // namespace
}  // namespace inkstone::lib::db
