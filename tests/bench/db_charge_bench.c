/* The raw database limit for `make bench`: N threads, each on its own connection, looping
 * over the charge transaction exactly as lib/billing/wallet.cpp runs it for a CONSUME entry:
 *   SELECT credits, ledger_seq FROM users WHERE id = ? FOR UPDATE   (the row lock)
 *   UPDATE users SET credits = credits + ?, ledger_seq = ledger_seq + 1, updated_at = ?
 *     WHERE id = ? AND credits >= ?            (the conditional debit)
 *   INSERT INTO credit_transactions (...)      (the ledger row, balance and seq from the lock)
 *   COMMIT
 * with nothing around it: autocommit is off once per connection, no pool, no retry helper, no
 * other statement. Users are spread (each transaction picks one of --users at random) or one
 * hot user (--users 1). Deadlocks and lock-wait timeouts are rolled back and counted.
 *
 * The rows it writes keep every ledger invariant (balance_after and seq computed from the
 * locked row), so the benchmark can check the ledger after it too.
 *
 * usage: db-charge-bench --db-host H --db-port P --db-user U --db-name D --threads N
 *                        --seconds S --first-user ID --users K [--amount A]
 *        (password in BENCH_DB_PASSWORD). Prints one JSON object on stdout:
 *        {"transactions":N,"seconds":S,"per_second":R,"p50_ms":A,"p99_ms":B,"aborted":K,
 *         "insufficient":I,"errors":E}
 */
#include <mysql.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BENCH_PROGRAM "db-charge-bench"
#include "bench_mysql.h"

static const char kApplyDeltaSql[] =
    "UPDATE users SET credits = credits + ?, ledger_seq = ledger_seq + 1, updated_at = ? "
    "WHERE id = ? AND credits >= ?";
static const char kSelectLockedBalanceSql[] =
    "SELECT credits, ledger_seq FROM users WHERE id = ? FOR UPDATE";
static const char kInsertEntrySql[] =
    "INSERT INTO credit_transactions (user_id, seq, type, amount, balance_after, description, "
    "related_order_no, related_generation_id, refund_of, created_at) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";

#define MAX_SAMPLES (1 << 20)

struct Options {
    const char *db_host;
    unsigned db_port;
    const char *db_user;
    const char *db_password;
    const char *db_name;
    int threads;
    double seconds;
    unsigned long long first_user;
    unsigned long long users;
    long long amount;
};

struct Stats {
    long long transactions;
    long long aborted;
    long long insufficient;
    long long errors;
    uint32_t *samples_us; /* per committed transaction */
    long long samples;
};

static struct Options g_options;

static double Now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void Bind(MYSQL_BIND *b, enum enum_field_types type, void *buffer, unsigned long *length,
                 int is_unsigned) {
    memset(b, 0, sizeof *b);
    b->buffer_type = type;
    b->buffer = buffer;
    b->length = length;
    b->is_unsigned = (my_bool)is_unsigned;
}

/* Deadlock 1213 and lock wait timeout 1205: the transaction is rolled back and retried. */
static int IsAborted(unsigned err) { return err == 1213 || err == 1205; }

enum Result { kCommitted, kInsufficient, kAborted, kError };

static enum Result ChargeOnce(MYSQL *mysql, MYSQL_STMT *apply, MYSQL_STMT *select,
                              MYSQL_STMT *insert, unsigned long long user_id, long long amount) {
    char now[80];
    SqlNow(now);
    unsigned long now_length = strlen(now);
    long long delta = -amount;
    long long min_balance = amount;
    MYSQL_BIND p[10];
    Bind(&p[0], MYSQL_TYPE_LONGLONG, &user_id, NULL, 1);
    if (mysql_stmt_bind_param(select, p) != 0 || mysql_stmt_execute(select) != 0)
        goto failed_select;
    long long balance = 0, seq = 0;
    MYSQL_BIND r[2];
    Bind(&r[0], MYSQL_TYPE_LONGLONG, &balance, NULL, 0);
    Bind(&r[1], MYSQL_TYPE_LONGLONG, &seq, NULL, 0);
    if (mysql_stmt_bind_result(select, r) != 0) goto failed_select;
    int rows = 0, rc;
    while ((rc = mysql_stmt_fetch(select)) == 0) ++rows;
    if (rc != MYSQL_NO_DATA || rows != 1) goto failed_select;
    if (balance < amount) {
        mysql_rollback(mysql);
        return kInsufficient;
    }

    Bind(&p[0], MYSQL_TYPE_LONGLONG, &delta, NULL, 0);
    Bind(&p[1], MYSQL_TYPE_STRING, now, &now_length, 0);
    Bind(&p[2], MYSQL_TYPE_LONGLONG, &user_id, NULL, 1);
    Bind(&p[3], MYSQL_TYPE_LONGLONG, &min_balance, NULL, 0);
    if (mysql_stmt_bind_param(apply, p) != 0 || mysql_stmt_execute(apply) != 0) goto failed_apply;
    if (mysql_stmt_affected_rows(apply) != 1) goto failed_apply;
    balance += delta;
    seq += 1;

    {
        char type[] = "CONSUME";
        unsigned long type_length = 7;
        char description[] = "AI生成 bench";
        unsigned long description_length = strlen(description);
        my_bool is_null = 1;
        MYSQL_BIND q[10];
        Bind(&q[0], MYSQL_TYPE_LONGLONG, &user_id, NULL, 1);
        Bind(&q[1], MYSQL_TYPE_LONGLONG, &seq, NULL, 0);
        Bind(&q[2], MYSQL_TYPE_STRING, type, &type_length, 0);
        Bind(&q[3], MYSQL_TYPE_LONGLONG, &delta, NULL, 0);
        Bind(&q[4], MYSQL_TYPE_LONGLONG, &balance, NULL, 0);
        Bind(&q[5], MYSQL_TYPE_STRING, description, &description_length, 0);
        for (int i = 6; i <= 8; ++i) {
            Bind(&q[i], MYSQL_TYPE_NULL, NULL, NULL, 0);
            q[i].is_null = &is_null;
        }
        Bind(&q[9], MYSQL_TYPE_STRING, now, &now_length, 0);
        if (mysql_stmt_bind_param(insert, q) != 0 || mysql_stmt_execute(insert) != 0) {
            const unsigned err = mysql_stmt_errno(insert);
            mysql_rollback(mysql);
            return IsAborted(err) ? kAborted : kError;
        }
    }
    if (mysql_commit(mysql) != 0) {
        const unsigned err = mysql_errno(mysql);
        mysql_rollback(mysql);
        return IsAborted(err) ? kAborted : kError;
    }
    return kCommitted;

failed_apply : {
    const unsigned err = mysql_stmt_errno(apply);
    mysql_rollback(mysql);
    return IsAborted(err) ? kAborted : kError;
}
failed_select : {
    const unsigned err = mysql_stmt_errno(select);
    mysql_rollback(mysql);
    return IsAborted(err) ? kAborted : kError;
}
}

static void *ThreadMain(void *arg) {
    struct Stats *stats = arg;
    if (mysql_thread_init() != 0) Die("mysql_thread_init", NULL);
    MYSQL *mysql = mysql_init(NULL);
    if (mysql == NULL) Die("mysql_init", "out of memory");
    if (mysql_options(mysql, MYSQL_SET_CHARSET_NAME, "utf8mb4") != 0) {
        Die("mysql_options", mysql_error(mysql));
    }
    if (mysql_real_connect(mysql, g_options.db_host, g_options.db_user, g_options.db_password,
                           g_options.db_name, g_options.db_port, NULL, 0) == NULL) {
        Die("mysql_real_connect", mysql_error(mysql));
    }
    if (mysql_autocommit(mysql, 0) != 0) Die("autocommit", mysql_error(mysql));
    MYSQL_STMT *apply = Prepare(mysql, kApplyDeltaSql);
    MYSQL_STMT *select = Prepare(mysql, kSelectLockedBalanceSql);
    MYSQL_STMT *insert = Prepare(mysql, kInsertEntrySql);

    unsigned seed = (unsigned)(uintptr_t)stats ^ (unsigned)time(NULL);
    const double end = Now() + g_options.seconds;
    for (double start = Now(); start < end; start = Now()) {
        const unsigned long long user =
            g_options.first_user + (unsigned long long)rand_r(&seed) % g_options.users;
        switch (ChargeOnce(mysql, apply, select, insert, user, g_options.amount)) {
            case kCommitted:
                ++stats->transactions;
                if (stats->samples < MAX_SAMPLES) {
                    stats->samples_us[stats->samples++] = (uint32_t)((Now() - start) * 1e6);
                }
                break;
            case kInsufficient:
                ++stats->insufficient;
                break;
            case kAborted:
                ++stats->aborted;
                break;
            case kError:
                ++stats->errors;
                fprintf(stderr, "db-charge-bench: %s\n", mysql_error(mysql));
                break;
        }
    }
    mysql_stmt_close(apply);
    mysql_stmt_close(select);
    mysql_stmt_close(insert);
    mysql_close(mysql);
    mysql_thread_end();
    return NULL;
}

static int CompareU32(const void *a, const void *b) {
    const uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
    g_options.db_host = Arg(argc, argv, "--db-host", "127.0.0.1");
    g_options.db_port = (unsigned)atoi(Arg(argc, argv, "--db-port", "3306"));
    g_options.db_user = Arg(argc, argv, "--db-user", "inkstone");
    g_options.db_name = Arg(argc, argv, "--db-name", "inkstone");
    g_options.threads = atoi(Arg(argc, argv, "--threads", "16"));
    g_options.seconds = atof(Arg(argc, argv, "--seconds", "5"));
    g_options.first_user = strtoull(Arg(argc, argv, "--first-user", NULL), NULL, 10);
    g_options.users = strtoull(Arg(argc, argv, "--users", NULL), NULL, 10);
    g_options.amount = atoll(Arg(argc, argv, "--amount", "10"));
    g_options.db_password = getenv("BENCH_DB_PASSWORD");
    if (g_options.db_password == NULL) g_options.db_password = "";
    if (g_options.threads < 1 || g_options.threads > 1024 || g_options.users < 1 ||
        g_options.seconds <= 0 || g_options.amount < 1) {
        Die("bad arguments", NULL);
    }
    if (mysql_library_init(0, NULL, NULL) != 0) Die("mysql_library_init", NULL);

    struct Stats *stats = calloc((size_t)g_options.threads, sizeof *stats);
    pthread_t *tids = calloc((size_t)g_options.threads, sizeof *tids);
    if (stats == NULL || tids == NULL) Die("calloc", NULL);
    const double started = Now();
    for (int i = 0; i < g_options.threads; ++i) {
        stats[i].samples_us = malloc(MAX_SAMPLES * sizeof(uint32_t));
        if (stats[i].samples_us == NULL) Die("malloc", NULL);
        if (pthread_create(&tids[i], NULL, ThreadMain, &stats[i]) != 0) Die("pthread_create", NULL);
    }
    struct Stats total = {0};
    long long samples = 0;
    for (int i = 0; i < g_options.threads; ++i) {
        if (pthread_join(tids[i], NULL) != 0) Die("pthread_join", NULL);
        total.transactions += stats[i].transactions;
        total.aborted += stats[i].aborted;
        total.insufficient += stats[i].insufficient;
        total.errors += stats[i].errors;
        samples += stats[i].samples;
    }
    const double elapsed = Now() - started;
    uint32_t *all = malloc((size_t)(samples > 0 ? samples : 1) * sizeof(uint32_t));
    if (all == NULL) Die("malloc", NULL);
    long long at = 0;
    for (int i = 0; i < g_options.threads; ++i) {
        memcpy(all + at, stats[i].samples_us, (size_t)stats[i].samples * sizeof(uint32_t));
        at += stats[i].samples;
    }
    qsort(all, (size_t)samples, sizeof(uint32_t), CompareU32);
    const double p50 = samples > 0 ? all[(samples - 1) * 50 / 100] / 1000.0 : 0;
    const double p99 = samples > 0 ? all[(samples - 1) * 99 / 100] / 1000.0 : 0;
    printf(
        "{\"transactions\":%lld,\"seconds\":%.3f,\"per_second\":%.1f,\"p50_ms\":%.3f,"
        "\"p99_ms\":%.3f,\"aborted\":%lld,\"insufficient\":%lld,\"errors\":%lld}\n",
        total.transactions, elapsed, total.transactions / elapsed, p50, p99, total.aborted,
        total.insufficient, total.errors);
    mysql_library_end();
    return total.errors > 0 ? 1 : 0;
}
