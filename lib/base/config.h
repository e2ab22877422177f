#pragma once
/// Typed, immutable configuration.
///
/// Sources, later ones win: built-in defaults < config file (`inkstone.conf`) < `.env`
/// in the working directory < process environment.
///
/// File and `.env` syntax: one `key = value` per line (`=` may have no spaces), `#` starts a
/// comment line, blank lines are ignored, values may be wrapped in single or double quotes.
/// Keys in the file are lower-case dotted (`db.pool_size`); the environment / `.env` name of
/// a key is upper-case with dots turned into underscores (`DB_POOL_SIZE`, `QWEN_API_KEY`).
/// Both spellings are accepted in the file and in `.env`. A leading `export ` (shell-style
/// `.env`) is ignored. Setting the same key twice in one file is an error naming both lines.
///
/// An unknown key in the file or in `.env` is a startup error naming the key; unknown
/// environment variables are ignored (the environment holds much else). A value of the wrong
/// type or out of range is an error naming the key and the value's problem (never the value
/// itself when the key is secret). A key is secret when its name contains `password`,
/// `secret` or `key` (`db.password`, `qwen.api_key`), unless it ends in `_file`: those hold
/// the path of a secret (`alipay.private_key_file`), and a path is not a secret.
#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace inkstone::lib::base {

struct ConfigError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

struct FcgiConfig {
    std::string listen = "var/run/inkstone.sock";  ///< unix socket path, or host:port for TCP
    int workers = 0;                               ///< worker processes; 0 = number of cores
    int threads = 32;                              ///< request threads per worker
    int thread_stack_kb = 256;                     ///< stack size of each request thread
    int backlog = 1024;                            ///< listen(2) backlog
    int64_t max_requests = 10000;  ///< recycle a worker after this many requests; 0 = never
    int graceful_timeout_s = 30;   ///< SIGQUIT/recycle drain deadline before SIGKILL
    int slow_request_ms = 2000;    ///< a request slower than this counts as slow
    std::string status_path = "/inkstone-status";  ///< php-fpm style status page (loopback only)
    /// Prometheus metrics (README, "Metrics"): loopback clients, plus `metrics_allow` and
    /// anyone sending `Authorization: Bearer <metrics_bearer_secret>` when set.
    std::string metrics_path = "/metrics";
    std::string metrics_allow;
    std::string metrics_bearer_secret;
    /// Over TCP, the peers that may connect (addresses or CIDRs, comma-separated); anyone else
    /// is closed before a request is read. Not used for a unix socket (its file mode decides).
    std::string allow = "127.0.0.0/8,::1";
};

struct DbConfig {
    std::string host = "127.0.0.1";
    int port = 3306;
    std::string socket;  ///< unix socket; when set it wins over host/port
    /// `db.hosts`: "host:port,host:port,..." (README "Scaling out"). When set it wins over
    /// host/port/socket: each new connection goes to the first host that answers and, on a
    /// Galera node, reports wsrep_ready = ON; a host that failed is tried last for a while.
    std::string hosts;
    std::string user = "inkstone";
    std::string password;  ///< secret
    std::string name = "inkstone";
    int pool_size = 8;  ///< connections per worker process
    int connect_timeout_s = 2;
    int read_timeout_s = 30;
    int acquire_timeout_ms = 2000;  ///< wait for a free pooled connection before 503
    /// `db.sync_wait`: autocommit reads wait until this Galera node has applied every write the
    /// cluster committed before them (`wsrep_sync_wait = 1`), so a read right after a write
    /// made through another node sees it. Off for a single server (the variable needs Galera).
    bool sync_wait = false;
};

struct LogConfig {
    std::string file;            ///< empty = stderr
    std::string level = "info";  ///< debug | info | warn | error
};

struct AuthConfig {
    int64_t token_ttl_s = 7 * 24 * 3600;
    /// How long a login or registration waits for an argon2 slot (one per core per worker)
    /// before it is answered 503 UNAVAILABLE with Retry-After.
    int hash_wait_ms = 250;
    /// Failed logins from one client address (IPv4, or IPv6 /64), any usernames, in 15 min.
    int login_failures_per_address = 100;
    /// Failed logins for one username from all addresses together in 15 min (a soft cap: the
    /// window slides, the account is never locked).
    int login_failures_per_username = 100;
    /// Registrations from one client address in an hour.
    int registrations_per_address = 20;
};

/// Redemption codes (兑换码, lib/admin/codes.h): failed redeems are counted per user and per
/// client address within a sliding window; past either limit POST /credit/redeem is 429
/// TOO_MANY_ATTEMPTS with Retry-After, even for a valid code, until the window has room again.
struct RedeemConfig {
    int failures_per_user = 10;     ///< failed redeems of one user, any addresses, per window
    int failures_per_address = 30;  ///< failed redeems from one client address (IPv4, IPv6 /64)
    int failure_window_s = 900;     ///< the window, in seconds (15 minutes)
};

struct JobsConfig {
    bool enabled = true;  ///< run background jobs (expiry, recovery, purges) in this host's workers
};

/// Alipay (open platform, RSA2). Keys are PEM files or Alipay's bare base64 text.
struct AlipayConfig {
    std::string app_id;
    std::string private_key_file;  ///< the app's private key: signs requests
    std::string public_key_file;   ///< Alipay's public key: verifies notifies and answers
    std::string gateway = "https://openapi.alipay.com/gateway.do";
    std::string seller_id;  ///< optional; when set, a notify's seller_id must equal it
};

/// WeChat Pay API v3.
struct WechatConfig {
    std::string mchid;
    std::string appid;
    std::string apiv3_key;         ///< secret; the 32-character APIv3 key
    std::string private_key_file;  ///< merchant API private key (apiclient_key.pem): signs requests
    std::string merchant_serial;   ///< serial number of the merchant API certificate
    std::string platform_public_key_file;  ///< WeChat Pay public key: verifies answers, notifies
    std::string platform_serial;  ///< its id (PUB_KEY_ID_...), matched against Wechatpay-Serial
    std::string api_base = "https://api.mch.weixin.qq.com";
};

struct PaymentConfig {
    /// live | mock; no default: a config that does not say is refused at startup (mock pays any
    /// order for free, so it must be chosen, and only where the world cannot reach it).
    std::string mode;
    int64_t order_ttl_s = 1800;  ///< an unpaid order expires this long after it was created
    int max_pending_orders = 5;  ///< unpaid, unexpired orders a user may have at once
};

struct CreditConfig {
    int64_t cost_per_generation = 10;  ///< credits a non-member pays per generation
};

/// The model catalog's prices.
struct AiConfig {
    /// Per-model credit costs that differ from credit.cost_per_generation:
    /// `qwen-max=20,wanx-v1=30`. Empty = every model costs credit.cost_per_generation.
    std::string model_credits;
};

/// Fair-use limits on generation (members too), held in the database so they hold across
/// workers and hosts.
struct GenerationConfig {
    int per_minute = 20;         ///< generations a user may start in any 60 s
    int in_flight = 3;           ///< text generations a user may have running at once
    int recovery_margin_s = 30;  ///< an image generation without a task id this long past the
                                 ///< upstream total timeout belongs to a dead worker: refunded
    /// A RUNNING text generation whose heartbeat (written at least every 5 s, or a third of
    /// this when shorter) is older than this belongs to a dead worker: refunded by recovery.
    int heartbeat_stale_s = 30;
    /// Text generations one worker runs at once; past it 503 UNAVAILABLE (nothing charged), so
    /// other routes keep threads. 0 = fcgi.threads minus a quarter (at least one thread spare).
    int max_per_worker = 0;
};

/// The Qwen provider (DashScope's native protocol).
struct QwenConfig {
    std::string api_key;  ///< secret; `QWEN_API_KEY` in the environment or `.env`
    /// DashScope's native API base: http(s); a trailing '/' is dropped.
    std::string base_url = "https://dashscope.aliyuncs.com/api/v1";
    int connect_timeout_ms = 3000;  ///< TCP + TLS handshake
    int idle_timeout_ms = 30000;    ///< a stream (or task call) silent this long is a timeout
    int total_timeout_ms = 300000;  ///< a whole call, streams included
};

/// Test-only switches; never enable them in production.
struct TestingConfig {
    bool hooks = false;  ///< routes /api/v1/_test/* (sleep, ...) for the integration tests
    /// Sleep inside every wallet transaction (charge, refund, settlement) after its row locks
    /// and before its commit, so crash tests can kill a worker mid-transaction. Only honoured
    /// when `hooks` is true.
    int settle_delay_ms = 0;
};

struct Config {
    FcgiConfig fcgi;
    DbConfig db;
    LogConfig log;
    AuthConfig auth;
    RedeemConfig redeem;
    JobsConfig jobs;
    PaymentConfig payment;
    CreditConfig credit;
    AiConfig ai;
    GenerationConfig generation;
    QwenConfig qwen;
    TestingConfig testing;
    std::string sql_dir = "sql";  ///< where numbered migrations live
    /// The URL the world reaches this server at; payment notify URLs are built from it.
    std::string public_base_url = "http://127.0.0.1:8080";
    AlipayConfig alipay;
    WechatConfig wechat;

    /// One line per key, `key = value`, secrets shown as `(set)`/`(unset)`. For `--print-config`.
    std::string Describe() const;
};

/// Everything needed to build a Config; tests pass explicit maps instead of the real environment.
struct ConfigSources {
    std::string file_path;                   ///< empty = no file; a given path must exist
    std::string dotenv_path = ".env";        ///< missing file is fine
    std::map<std::string, std::string> env;  ///< process environment (all of it)
};

/// The rules a config must pass before the server runs with it (startup, --check-config, every
/// reload); throws ConfigError saying which rule and how to fix it:
///   - `payment.mode` is set (no default);
///   - `mock` only with a loopback `public_base_url` or with `testing.hooks`;
///   - `testing.hooks` only with `mock` and a loopback `public_base_url`.
void CheckServingConfig(const Config& config);

/// One line for `--check-config`: the payment mode in force and why it is allowed.
std::string DescribePaymentMode(const Config& config);

/// Reads the environment of this process into a map.
std::map<std::string, std::string> ProcessEnvironment();

/// Parses and validates. Throws ConfigError naming the offending key (and the file and line).
Config LoadConfig(const ConfigSources& sources);

}  // namespace inkstone::lib::base
