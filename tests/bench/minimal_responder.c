/* The floor of the stack for `make bench`: the least a libfcgi responder can do to answer
 * GET /credit/balance. Plain libfcgi, the MariaDB C API and libsodium, no C++ and no pool:
 * N threads, each with its own connection and its prepared statement, blocking in
 * FCGX_Accept_r on one socket. Per request it does what inkstone does for that route:
 *   - the same token check (Bearer, 43 base64url characters decoding to 32 bytes, SHA-256);
 *   - the same single session SELECT as lib/accounts/accounts.cpp (kSelectSessionSql), which
 *     carries the user's credits and membership;
 *   - the same JSON body (keys in jsoncpp's order) with Content-Type and Cache-Control.
 * It leaves out everything a product needs and a floor does not: routing, JSON parsing of
 * bodies, a connection pool, logging, request ids, error mapping.
 *
 * usage: minimal-responder --socket PATH --threads N --db-host H --db-port P --db-user U
 *                          --db-name D [--cost C]      (password in BENCH_DB_PASSWORD)
 */
#include <fcgiapp.h>
#include <mysql.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define BENCH_PROGRAM "minimal-responder"
#include "bench_mysql.h"

#define TOKEN_CHARS 43
#define TOKEN_BYTES 32

static const char kSelectSessionSql[] =
    "SELECT u.id, u.username, u.email, u.role, u.credits, u.member_expired_at, u.created_at, "
    "LOWER(HEX(t.token_hash)) AS token_hash "
    "FROM auth_tokens t JOIN users u ON u.id = t.user_id "
    "WHERE t.token_hash = UNHEX(?) AND t.revoked_at IS NULL AND t.expires_at > ?";

struct Options {
    const char *socket_path;
    int threads;
    const char *db_host;
    unsigned db_port;
    const char *db_user;
    const char *db_password;
    const char *db_name;
    long cost;
};

static struct Options g_options;
static int g_listen_fd = -1;

struct Conn {
    MYSQL *mysql;
    MYSQL_STMT *session;
};

static void Connect(struct Conn *c) {
    c->mysql = mysql_init(NULL);
    if (c->mysql == NULL) Die("mysql_init", "out of memory");
    /* The pool's connection settings (lib/db.cpp with the db.* defaults): with a read timeout
     * libmariadb waits for every answer in poll() rather than in a blocking read, which a
     * server that must not hang on a stuck database pays for, so the floor pays it too. */
    const unsigned int connect_timeout = 2, read_timeout = 30;
    if (mysql_options(c->mysql, MYSQL_SET_CHARSET_NAME, "utf8mb4") != 0 ||
        mysql_options(c->mysql, MYSQL_OPT_CONNECT_TIMEOUT, &connect_timeout) != 0 ||
        mysql_options(c->mysql, MYSQL_OPT_READ_TIMEOUT, &read_timeout) != 0 ||
        mysql_options(c->mysql, MYSQL_OPT_WRITE_TIMEOUT, &read_timeout) != 0) {
        Die("mysql_options", mysql_error(c->mysql));
    }
    if (mysql_real_connect(c->mysql, g_options.db_host, g_options.db_user, g_options.db_password,
                           g_options.db_name, g_options.db_port, NULL, 0) == NULL) {
        Die("mysql_real_connect", mysql_error(c->mysql));
    }
    /* inkstone writes UTC DATETIMEs from its own clock; compare in the same zone. */
    if (mysql_query(c->mysql, "SET time_zone = '+00:00'") != 0) {
        Die("SET time_zone", mysql_error(c->mysql));
    }
    c->session = Prepare(c->mysql, kSelectSessionSql);
}

/* The token of "Bearer <token>" (case-insensitive scheme, blanks trimmed), or NULL. */
static const char *BearerToken(const char *header, size_t *length) {
    if (header == NULL) return NULL;
    while (*header == ' ' || *header == '\t') ++header;
    if (strncasecmp(header, "bearer ", 7) != 0) return NULL;
    header += 7;
    while (*header == ' ' || *header == '\t') ++header;
    size_t n = strlen(header);
    while (n > 0 && (header[n - 1] == ' ' || header[n - 1] == '\t')) --n;
    *length = n;
    return header;
}

static int IsTokenChar(char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
}

/* The same check and digest as lib/auth.cpp TokenHashHex: 0 and the hex digest, or -1. */
static int TokenHashHex(const char *token, size_t length, char hex[65]) {
    if (length != TOKEN_CHARS) return -1;
    for (size_t i = 0; i < length; ++i) {
        if (!IsTokenChar(token[i])) return -1;
    }
    unsigned char bytes[TOKEN_BYTES];
    size_t decoded = 0;
    const char *end = NULL;
    if (sodium_base642bin(bytes, sizeof bytes, token, length, NULL, &decoded, &end,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
        decoded != TOKEN_BYTES || end != token + length) {
        return -1;
    }
    unsigned char digest[crypto_hash_sha256_BYTES];
    if (crypto_hash_sha256(digest, bytes, sizeof bytes) != 0) return -1;
    sodium_bin2hex(hex, 65, digest, sizeof digest);
    return 0;
}

/* The session SELECT, which carries the balance too: 0 with credits and member_expired_at
 * ("" when NULL), 1 for no live session, -1 on a DB error. */
static int LookUpSession(struct Conn *c, const char *hash_hex, long long *credits,
                         char member_until[32]) {
    char now[80];
    SqlNow(now);
    MYSQL_BIND params[2];
    memset(params, 0, sizeof params);
    unsigned long hash_length = 64;
    unsigned long now_length = strlen(now);
    params[0].buffer_type = MYSQL_TYPE_STRING;
    params[0].buffer = (void *)hash_hex;
    params[0].length = &hash_length;
    params[1].buffer_type = MYSQL_TYPE_STRING;
    params[1].buffer = now;
    params[1].length = &now_length;
    if (mysql_stmt_bind_param(c->session, params) != 0 || mysql_stmt_execute(c->session) != 0) {
        return -1;
    }
    /* Every column inkstone reads, bound as inkstone's principal holds them. */
    unsigned long long id = 0;
    char username[64], email[256], role[32], created[32], stored_hash[65];
    unsigned long username_length = 0, email_length = 0, role_length = 0, until_length = 0,
                  created_length = 0, stored_length = 0;
    my_bool email_null = 0, until_null = 0;
    MYSQL_BIND results[8];
    memset(results, 0, sizeof results);
    results[0].buffer_type = MYSQL_TYPE_LONGLONG;
    results[0].buffer = &id;
    results[0].is_unsigned = 1;
    results[1].buffer_type = MYSQL_TYPE_STRING;
    results[1].buffer = username;
    results[1].buffer_length = sizeof username;
    results[1].length = &username_length;
    results[2].buffer_type = MYSQL_TYPE_STRING;
    results[2].buffer = email;
    results[2].buffer_length = sizeof email;
    results[2].length = &email_length;
    results[2].is_null = &email_null;
    results[3].buffer_type = MYSQL_TYPE_STRING;
    results[3].buffer = role;
    results[3].buffer_length = sizeof role;
    results[3].length = &role_length;
    results[4].buffer_type = MYSQL_TYPE_LONGLONG;
    results[4].buffer = credits;
    results[5].buffer_type = MYSQL_TYPE_STRING;
    results[5].buffer = member_until;
    results[5].buffer_length = 31;
    results[5].length = &until_length;
    results[5].is_null = &until_null;
    results[6].buffer_type = MYSQL_TYPE_STRING;
    results[6].buffer = created;
    results[6].buffer_length = sizeof created;
    results[6].length = &created_length;
    results[7].buffer_type = MYSQL_TYPE_STRING;
    results[7].buffer = stored_hash;
    results[7].buffer_length = sizeof stored_hash;
    results[7].length = &stored_length;
    if (mysql_stmt_bind_result(c->session, results) != 0) return -1;
    int found = 0;
    int rc;
    while ((rc = mysql_stmt_fetch(c->session)) == 0 || rc == MYSQL_DATA_TRUNCATED) {
        /* As inkstone does: the digest found must equal ours, compared in constant time. */
        if (stored_length == 64 && sodium_memcmp(stored_hash, hash_hex, 64) == 0) found = 1;
    }
    if (rc != MYSQL_NO_DATA) return -1;
    member_until[until_null ? 0 : (until_length < 31 ? until_length : 31)] = '\0';
    return found ? 0 : 1;
}

static void Reply(FCGX_Request *request, int status, const char *reason, const char *body) {
    /* snprintf, not FCGX_FPrintF: libfcgi's own printf knows no `z` length modifier. */
    char head[192];
    const size_t body_length = strlen(body);
    const int n = snprintf(head, sizeof head,
                           "Status: %d %s\r\nContent-Type: application/json\r\n"
                           "Cache-Control: no-store\r\nContent-Length: %zu\r\n\r\n",
                           status, reason, body_length);
    if (n < 0 || (size_t)n >= sizeof head) return;
    if (FCGX_PutStr(head, n, request->out) != n) return;
    if (FCGX_PutStr(body, (int)body_length, request->out) != (int)body_length) return;
}

static void Serve(struct Conn *c, FCGX_Request *request) {
    size_t token_length = 0;
    const char *token =
        BearerToken(FCGX_GetParam("HTTP_AUTHORIZATION", request->envp), &token_length);
    char hash_hex[65];
    if (token == NULL || TokenHashHex(token, token_length, hash_hex) != 0) {
        Reply(request, 401, "Unauthorized",
              "{\"code\":\"UNAUTHORIZED\",\"detail\":\"missing, invalid or expired token\"}");
        return;
    }
    long long credits = 0;
    char until[32];
    const int session = LookUpSession(c, hash_hex, &credits, until);
    if (session != 0) {
        if (session < 0) {
            Reply(request, 503, "Service Unavailable",
                  "{\"code\":\"UNAVAILABLE\",\"detail\":\"database error\"}");
        } else {
            Reply(request, 401, "Unauthorized",
                  "{\"code\":\"UNAUTHORIZED\",\"detail\":\"missing, invalid or expired token\"}");
        }
        return;
    }
    /* is_member = member_expired_at > now; both are fixed-width UTC text, so text order is
     * time order. The stored value may have no fraction; compare the common prefix first. */
    char now[80];
    SqlNow(now);
    const int member = until[0] != '\0' && strncmp(until, now, 19) > 0;
    char until_json[48];
    if (until[0] == '\0') {
        snprintf(until_json, sizeof until_json, "null");
    } else {
        /* "2026-11-26 08:00:00[.ffffff]" -> "2026-11-26T08:00:00Z", as inkstone shows times. */
        snprintf(until_json, sizeof until_json, "\"%.10sT%.8sZ\"", until, until + 11);
    }
    char body[256];
    snprintf(body, sizeof body,
             "{\"cost_per_generation\":%ld,\"credits\":%lld,\"is_member\":%s,"
             "\"member_expired_at\":%s}",
             g_options.cost, credits, member ? "true" : "false", until_json);
    Reply(request, 200, "OK", body);
}

static void *ThreadMain(void *arg) {
    (void)arg;
    if (mysql_thread_init() != 0) Die("mysql_thread_init", NULL);
    struct Conn conn;
    Connect(&conn);
    FCGX_Request request;
    if (FCGX_InitRequest(&request, g_listen_fd, 0) != 0) Die("FCGX_InitRequest", NULL);
    for (;;) {
        /* Linux wakes one blocked accept() per connection: no accept mutex needed. */
        if (FCGX_Accept_r(&request) < 0) continue;
        Serve(&conn, &request);
        FCGX_Finish_r(&request);
    }
    return NULL;
}

int main(int argc, char **argv) {
    g_options.socket_path = Arg(argc, argv, "--socket", NULL);
    g_options.threads = atoi(Arg(argc, argv, "--threads", "16"));
    g_options.db_host = Arg(argc, argv, "--db-host", "127.0.0.1");
    g_options.db_port = (unsigned)atoi(Arg(argc, argv, "--db-port", "3306"));
    g_options.db_user = Arg(argc, argv, "--db-user", "inkstone");
    g_options.db_name = Arg(argc, argv, "--db-name", "inkstone");
    g_options.cost = atol(Arg(argc, argv, "--cost", "10"));
    g_options.db_password = getenv("BENCH_DB_PASSWORD");
    if (g_options.db_password == NULL) g_options.db_password = "";
    if (g_options.threads < 1 || g_options.threads > 4096) Die("bad --threads", NULL);

    signal(SIGPIPE, SIG_IGN);
    if (sodium_init() < 0) Die("sodium_init", NULL);
    if (mysql_library_init(0, NULL, NULL) != 0) Die("mysql_library_init", NULL);
    if (FCGX_Init() != 0) Die("FCGX_Init", NULL);
    g_listen_fd = FCGX_OpenSocket(g_options.socket_path, 1024);
    if (g_listen_fd < 0) Die("FCGX_OpenSocket", g_options.socket_path);

    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 256 * 1024);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    for (int i = 0; i < g_options.threads; ++i) {
        pthread_t tid;
        if (pthread_create(&tid, &attr, ThreadMain, NULL) != 0) Die("pthread_create", NULL);
    }
    pthread_attr_destroy(&attr);
    fprintf(stderr, "minimal-responder: %d threads on %s\n", g_options.threads,
            g_options.socket_path);
    for (;;) pause();
}
