/* Helpers shared by the C baselines (minimal_responder.c, db_charge_bench.c): fatal errors,
 * command-line lookup, DATETIME(6) "now" as inkstone writes it, and statement preparation.
 * Define BENCH_PROGRAM (the program's name, for messages) before including. */
#ifndef INKSTONE_TESTS_BENCH_BENCH_MYSQL_H_
#define INKSTONE_TESTS_BENCH_BENCH_MYSQL_H_

#include <mysql.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void Die(const char *what, const char *detail) {
    fprintf(stderr, BENCH_PROGRAM ": %s: %s\n", what, detail ? detail : "");
    exit(1);
}

/* The value after `name` on the command line, or `fallback` (NULL = required). */
static const char *Arg(int argc, char **argv, const char *name, const char *fallback) {
    for (int i = 1; i + 1 < argc; ++i) {
        if (strcmp(argv[i], name) == 0) return argv[i + 1];
    }
    if (fallback == NULL) Die("missing argument", name);
    return fallback;
}

/* "YYYY-MM-DD HH:MM:SS.uuuuuu" in UTC, as inkstone writes DATETIME(6) values. */
static void SqlNow(char out[80]) {
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    snprintf(out, 80, "%04d-%02d-%02d %02d:%02d:%02d.%06ld", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000);
}

static MYSQL_STMT *Prepare(MYSQL *mysql, const char *sql) {
    MYSQL_STMT *stmt = mysql_stmt_init(mysql);
    if (stmt == NULL) Die("mysql_stmt_init", mysql_error(mysql));
    if (mysql_stmt_prepare(stmt, sql, strlen(sql)) != 0) Die("prepare", mysql_stmt_error(stmt));
    return stmt;
}

#endif /* INKSTONE_TESTS_BENCH_BENCH_MYSQL_H_ */
