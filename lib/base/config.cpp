#include "lib/base/config.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cassert>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <functional>
#include <limits>
#include <system_error>
#include <type_traits>
#include <unordered_map>

#include "lib/base/address.h"

extern char** environ;

namespace inkstone::lib::base {
namespace {

enum class Text {
    kAny,
    kNonEmpty,
    kUrlPath,
    kHttpUrl,
    kCidrList,
    kOptionalCidrList,
    kHostPortList
};

// `db.hosts`: "" or comma-separated host:port (host non-empty, no spaces, port 1-65535).
bool IsHostPortList(const std::string& raw, std::string* bad) {
    if (raw.empty()) return true;
    size_t start = 0;
    while (start <= raw.size()) {
        const size_t comma = raw.find(',', start);
        const std::string item =
            raw.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
        const size_t colon = item.rfind(':');
        bool ok = colon != std::string::npos && colon > 0 && colon + 1 < item.size() &&
                  item.find_first_of(" \t/") == std::string::npos;
        if (ok) {
            const std::string port = item.substr(colon + 1);
            ok = port.size() <= 5 && port.find_first_not_of("0123456789") == std::string::npos &&
                 std::stoi(port) >= 1 && std::stoi(port) <= 65535;
        }
        if (!ok) {
            *bad = item;
            return false;
        }
        if (comma == std::string::npos) break;
        start = comma + 1;
    }
    return true;
}

/// One configuration key. Every key is one row of the table in Keys(); the rest of this file
/// (file/.env/environment parsing, validation, Describe) is driven by that table.
struct KeySpec {
    std::string name;      // `db.pool_size`
    std::string env_name;  // `DB_POOL_SIZE`
    bool secret = false;
    // Parses and stores `raw`; returns the problem ("must be an integer from 1 to 1024") or "".
    std::function<std::string(Config&, const std::string& raw)> set;
    // The current value as text, unquoted; Describe quotes strings and hides secrets.
    std::function<std::string(const Config&)> get;
    bool quoted = false;
};

std::string EnvName(std::string_view name) {
    std::string out(name);
    for (char& c : out) {
        c = c == '.' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    }
    return out;
}

// Anything that looks like a credential is kept out of Describe and error messages, so a new
// key such as `qwen.api_key` is secret without anyone remembering to flag it. `*_file` keys
// hold where a secret lives, which operators need to see when a key file fails to load.
bool IsSecretName(std::string_view name) {
    constexpr std::string_view kFileSuffix = "_file";
    if (name.size() >= kFileSuffix.size() &&
        name.substr(name.size() - kFileSuffix.size()) == kFileSuffix) {
        return false;
    }
    return name.find("password") != std::string_view::npos ||
           name.find("secret") != std::string_view::npos ||
           name.find("key") != std::string_view::npos;
}

KeySpec MakeSpec(std::string name) {
    KeySpec spec;
    spec.env_name = EnvName(name);
    spec.secret = IsSecretName(name);
    spec.name = std::move(name);
    return spec;
}

/// Accessor for `config.section.field`, usable on const and non-const configs.
template <typename Section, typename T>
auto Field(Section Config::*section, T Section::*field) {
    return [ section, field ](auto& config) -> auto& { return (config.*section).*field; };
}

/// Accessor for a top-level `config.field`.
template <typename T>
auto Field(T Config::*field) {
    return [field](auto& config) -> auto& { return config.*field; };
}

bool ParseInt(const std::string& text, int64_t* out) {
    const char* const end = text.data() + text.size();
    const auto [ptr, ec] = std::from_chars(text.data(), end, *out);
    return ec == std::errc() && ptr == end && !text.empty();
}

template <typename Access>
KeySpec IntKey(std::string name, Access access, int64_t min, int64_t max) {
    using T = std::remove_reference_t<decltype(access(std::declval<Config&>()))>;
    assert(min >= std::numeric_limits<T>::min() && max <= std::numeric_limits<T>::max());
    KeySpec spec = MakeSpec(std::move(name));
    spec.set = [access, min, max](Config& config, const std::string& raw) -> std::string {
        int64_t value;
        if (!ParseInt(raw, &value) || value < min || value > max) {
            return "must be an integer from " + std::to_string(min) + " to " + std::to_string(max);
        }
        access(config) = static_cast<T>(value);
        return {};
    };
    spec.get = [access](const Config& config) { return std::to_string(access(config)); };
    return spec;
}

template <typename Access>
KeySpec StringKey(std::string name, Access access, Text rule = Text::kAny) {
    KeySpec spec = MakeSpec(std::move(name));
    spec.set = [access, rule](Config& config, const std::string& raw) -> std::string {
        if (rule == Text::kNonEmpty && raw.empty()) return "must not be empty";
        if (rule == Text::kUrlPath && (raw.empty() || raw.front() != '/')) {
            return "must be a path starting with '/'";
        }
        if (rule == Text::kHttpUrl &&
            ((raw.rfind("http://", 0) != 0 && raw.rfind("https://", 0) != 0) ||
             raw.find_first_of(" \t\r\n?#") != std::string::npos)) {
            return "must be an http:// or https:// URL without spaces, query or fragment";
        }
        std::string bad;
        if (rule == Text::kHostPortList && !IsHostPortList(raw, &bad)) {
            return "must be a comma-separated list of host:port (\"" + bad + "\" is not one)";
        }
        // An optional list may be empty (nobody beyond the built-in rule).
        if ((rule == Text::kCidrList || (rule == Text::kOptionalCidrList && !raw.empty())) &&
            !ParseCidrList(raw, &bad)) {
            return "must be a comma-separated list of addresses or CIDRs (\"" + bad +
                   "\" is not one)";
        }
        access(config) = raw;
        return {};
    };
    spec.get = [access](const Config& config) { return access(config); };
    spec.quoted = true;
    return spec;
}

template <typename Access>
KeySpec BoolKey(std::string name, Access access) {
    KeySpec spec = MakeSpec(std::move(name));
    spec.set = [access](Config& config, const std::string& raw) -> std::string {
        if (raw == "true" || raw == "1" || raw == "yes" || raw == "on") {
            access(config) = true;
        } else if (raw == "false" || raw == "0" || raw == "no" || raw == "off") {
            access(config) = false;
        } else {
            return "must be true or false";
        }
        return {};
    };
    spec.get = [access](const Config& config) {
        return std::string(access(config) ? "true" : "false");
    };
    return spec;
}

template <typename Access>
KeySpec ChoiceKey(std::string name, Access access, std::vector<std::string> choices) {
    KeySpec spec = StringKey(std::move(name), access);
    // An empty choice stands for "unset" (a key without a default): accepted, never listed.
    std::string problem = "must be one of";
    bool first = true;
    for (const std::string& choice : choices) {
        if (choice.empty()) continue;
        problem += (first ? " " : ", ") + choice;
        first = false;
    }
    spec.set = [access, choices, problem](Config& config, const std::string& raw) -> std::string {
        if (std::find(choices.begin(), choices.end(), raw) == choices.end()) return problem;
        access(config) = raw;
        return {};
    };
    return spec;
}

const std::vector<KeySpec>& Keys() {
    using C = Config;
    static const std::vector<KeySpec> keys = {
        StringKey("fcgi.listen", Field(&C::fcgi, &FcgiConfig::listen), Text::kNonEmpty),
        IntKey("fcgi.workers", Field(&C::fcgi, &FcgiConfig::workers), 0, 256),
        IntKey("fcgi.threads", Field(&C::fcgi, &FcgiConfig::threads), 1, 4096),
        IntKey("fcgi.thread_stack_kb", Field(&C::fcgi, &FcgiConfig::thread_stack_kb), 64, 65536),
        IntKey("fcgi.backlog", Field(&C::fcgi, &FcgiConfig::backlog), 1, 65535),
        IntKey("fcgi.max_requests", Field(&C::fcgi, &FcgiConfig::max_requests), 0, 1000000000000),
        IntKey("fcgi.graceful_timeout_s", Field(&C::fcgi, &FcgiConfig::graceful_timeout_s), 1,
               3600),
        IntKey("fcgi.slow_request_ms", Field(&C::fcgi, &FcgiConfig::slow_request_ms), 1, 3600000),
        StringKey("fcgi.status_path", Field(&C::fcgi, &FcgiConfig::status_path), Text::kUrlPath),
        StringKey("fcgi.metrics_path", Field(&C::fcgi, &FcgiConfig::metrics_path), Text::kUrlPath),
        StringKey("fcgi.metrics_allow", Field(&C::fcgi, &FcgiConfig::metrics_allow),
                  Text::kOptionalCidrList),
        StringKey("fcgi.metrics_bearer_secret",
                  Field(&C::fcgi, &FcgiConfig::metrics_bearer_secret)),
        StringKey("fcgi.allow", Field(&C::fcgi, &FcgiConfig::allow), Text::kCidrList),
        StringKey("db.host", Field(&C::db, &DbConfig::host), Text::kNonEmpty),
        IntKey("db.port", Field(&C::db, &DbConfig::port), 1, 65535),
        StringKey("db.socket", Field(&C::db, &DbConfig::socket)),
        StringKey("db.hosts", Field(&C::db, &DbConfig::hosts), Text::kHostPortList),
        BoolKey("db.sync_wait", Field(&C::db, &DbConfig::sync_wait)),
        StringKey("db.user", Field(&C::db, &DbConfig::user), Text::kNonEmpty),
        StringKey("db.password", Field(&C::db, &DbConfig::password)),
        StringKey("db.name", Field(&C::db, &DbConfig::name), Text::kNonEmpty),
        IntKey("db.pool_size", Field(&C::db, &DbConfig::pool_size), 1, 1024),
        IntKey("db.connect_timeout_s", Field(&C::db, &DbConfig::connect_timeout_s), 1, 3600),
        IntKey("db.read_timeout_s", Field(&C::db, &DbConfig::read_timeout_s), 1, 86400),
        IntKey("db.acquire_timeout_ms", Field(&C::db, &DbConfig::acquire_timeout_ms), 0, 600000),
        StringKey("log.file", Field(&C::log, &LogConfig::file)),
        ChoiceKey("log.level", Field(&C::log, &LogConfig::level),
                  {"debug", "info", "warn", "error"}),
        IntKey("auth.token_ttl_s", Field(&C::auth, &AuthConfig::token_ttl_s), 60, 31622400),
        IntKey("auth.hash_wait_ms", Field(&C::auth, &AuthConfig::hash_wait_ms), 1, 60000),
        IntKey("auth.login_failures_per_address",
               Field(&C::auth, &AuthConfig::login_failures_per_address), 1, 1000000),
        IntKey("auth.login_failures_per_username",
               Field(&C::auth, &AuthConfig::login_failures_per_username), 1, 1000000),
        IntKey("auth.registrations_per_address",
               Field(&C::auth, &AuthConfig::registrations_per_address), 1, 1000000),
        IntKey("redeem.failures_per_user", Field(&C::redeem, &RedeemConfig::failures_per_user), 1,
               1000000),
        IntKey("redeem.failures_per_address",
               Field(&C::redeem, &RedeemConfig::failures_per_address), 1, 1000000),
        IntKey("redeem.failure_window_s", Field(&C::redeem, &RedeemConfig::failure_window_s), 1,
               86400),
        StringKey("sql_dir", Field(&C::sql_dir), Text::kNonEmpty),
        BoolKey("jobs.enabled", Field(&C::jobs, &JobsConfig::enabled)),
        ChoiceKey("payment.mode", Field(&C::payment, &PaymentConfig::mode), {"", "live", "mock"}),
        IntKey("payment.order_ttl_s", Field(&C::payment, &PaymentConfig::order_ttl_s), 1, 604800),
        IntKey("payment.max_pending_orders", Field(&C::payment, &PaymentConfig::max_pending_orders),
               1, 10000),
        IntKey("credit.cost_per_generation", Field(&C::credit, &CreditConfig::cost_per_generation),
               0, 1000000),
        StringKey("ai.model_credits", Field(&C::ai, &AiConfig::model_credits)),
        IntKey("generation.per_minute", Field(&C::generation, &GenerationConfig::per_minute), 1,
               1000000),
        IntKey("generation.in_flight", Field(&C::generation, &GenerationConfig::in_flight), 1,
               100000),
        IntKey("generation.recovery_margin_s",
               Field(&C::generation, &GenerationConfig::recovery_margin_s), 1, 86400),
        IntKey("generation.heartbeat_stale_s",
               Field(&C::generation, &GenerationConfig::heartbeat_stale_s), 3, 86400),
        IntKey("generation.max_per_worker",
               Field(&C::generation, &GenerationConfig::max_per_worker), 0, 1000000),
        StringKey("qwen.api_key", Field(&C::qwen, &QwenConfig::api_key)),
        StringKey("qwen.base_url", Field(&C::qwen, &QwenConfig::base_url), Text::kHttpUrl),
        IntKey("qwen.connect_timeout_ms", Field(&C::qwen, &QwenConfig::connect_timeout_ms), 1,
               600000),
        IntKey("qwen.idle_timeout_ms", Field(&C::qwen, &QwenConfig::idle_timeout_ms), 1, 3600000),
        IntKey("qwen.total_timeout_ms", Field(&C::qwen, &QwenConfig::total_timeout_ms), 1,
               86400000),
        BoolKey("testing.hooks", Field(&C::testing, &TestingConfig::hooks)),
        StringKey("public_base_url", Field(&C::public_base_url), Text::kHttpUrl),
        StringKey("alipay.app_id", Field(&C::alipay, &AlipayConfig::app_id)),
        StringKey("alipay.private_key_file", Field(&C::alipay, &AlipayConfig::private_key_file)),
        StringKey("alipay.public_key_file", Field(&C::alipay, &AlipayConfig::public_key_file)),
        StringKey("alipay.gateway", Field(&C::alipay, &AlipayConfig::gateway), Text::kHttpUrl),
        StringKey("alipay.seller_id", Field(&C::alipay, &AlipayConfig::seller_id)),
        StringKey("wechat.mchid", Field(&C::wechat, &WechatConfig::mchid)),
        StringKey("wechat.appid", Field(&C::wechat, &WechatConfig::appid)),
        StringKey("wechat.apiv3_key", Field(&C::wechat, &WechatConfig::apiv3_key)),
        StringKey("wechat.private_key_file", Field(&C::wechat, &WechatConfig::private_key_file)),
        StringKey("wechat.merchant_serial", Field(&C::wechat, &WechatConfig::merchant_serial)),
        StringKey("wechat.platform_public_key_file",
                  Field(&C::wechat, &WechatConfig::platform_public_key_file)),
        StringKey("wechat.platform_serial", Field(&C::wechat, &WechatConfig::platform_serial)),
        StringKey("wechat.api_base", Field(&C::wechat, &WechatConfig::api_base), Text::kHttpUrl),
        IntKey("testing.settle_delay_ms", Field(&C::testing, &TestingConfig::settle_delay_ms), 0,
               60000),
    };
    return keys;
}

/// Both spellings of every key: `db.pool_size` and `DB_POOL_SIZE`.
const KeySpec* FindKey(std::string_view name) {
    static const auto index = [] {
        std::unordered_map<std::string, const KeySpec*> map;
        for (const KeySpec& spec : Keys()) {
            map.emplace(spec.name, &spec);
            map.emplace(spec.env_name, &spec);
        }
        return map;
    }();
    const auto it = index.find(std::string(name));
    return it == index.end() ? nullptr : it->second;
}

std::string ErrnoText(int error) { return std::system_category().message(error); }

/// Reads a whole file. Returns false when it does not exist; other failures throw.
bool ReadFile(const std::string& path, std::string* out) {
    const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT) return false;
        throw ConfigError("cannot open '" + path + "': " + ErrnoText(errno));
    }
    out->clear();
    char buffer[8192];
    for (;;) {
        const ssize_t n = read(fd, buffer, sizeof buffer);
        if (n == 0) break;
        if (n < 0) {
            if (errno == EINTR) continue;
            const int error = errno;
            close(fd);
            throw ConfigError("cannot read '" + path + "': " + ErrnoText(error));
        }
        out->append(buffer, static_cast<size_t>(n));
    }
    if (close(fd) != 0) throw ConfigError("cannot close '" + path + "': " + ErrnoText(errno));
    return true;
}

std::string_view Trim(std::string_view text) {
    const size_t begin = text.find_first_not_of(" \t\r");
    if (begin == std::string_view::npos) return {};
    const size_t end = text.find_last_not_of(" \t\r");
    return text.substr(begin, end - begin + 1);
}

/// Applies one value; `where` is `inkstone.conf:12`, `.env:3` or `environment`.
void Apply(Config& config, const KeySpec& spec, std::string_view spelled, const std::string& value,
           const std::string& where) {
    const std::string problem = spec.set(config, value);
    if (problem.empty()) return;
    std::string message = where + ": " + std::string(spelled);
    if (spelled != spec.name) message += " (" + spec.name + ")";
    message += " " + problem;
    if (!spec.secret) message += ", got \"" + value + "\"";
    throw ConfigError(message);
}

/// `key = value` lines of the config file or of `.env`.
void ApplyFile(Config& config, const std::string& path, const std::string& content) {
    std::unordered_map<const KeySpec*, size_t> seen_on_line;
    size_t line_number = 0;
    size_t pos = 0;
    while (pos < content.size()) {
        size_t end = content.find('\n', pos);
        if (end == std::string::npos) end = content.size();
        std::string_view line = Trim(std::string_view(content).substr(pos, end - pos));
        pos = end + 1;
        ++line_number;
        if (line.empty() || line.front() == '#') continue;

        const std::string where = path + ":" + std::to_string(line_number);
        // Shell-style `.env` files often say `export KEY=value`.
        if (line.rfind("export ", 0) == 0) line = Trim(line.substr(7));
        const size_t eq = line.find('=');
        if (eq == std::string_view::npos) throw ConfigError(where + ": expected 'key = value'");
        const std::string_view key = Trim(line.substr(0, eq));
        std::string_view value = Trim(line.substr(eq + 1));

        const KeySpec* spec = FindKey(key);
        if (spec == nullptr) throw ConfigError(where + ": unknown key '" + std::string(key) + "'");
        const auto [previous, inserted] = seen_on_line.emplace(spec, line_number);
        if (!inserted) {
            throw ConfigError(where + ": " + spec->name + " is already set on line " +
                              std::to_string(previous->second));
        }
        if (!value.empty() && (value.front() == '"' || value.front() == '\'')) {
            if (value.size() < 2 || value.back() != value.front()) {
                throw ConfigError(where + ": " + std::string(key) + " has an unbalanced quote");
            }
            value = value.substr(1, value.size() - 2);
        }
        Apply(config, *spec, key, std::string(value), where);
    }
}

}  // namespace

std::string Config::Describe() const {
    std::string out;
    for (const KeySpec& spec : Keys()) {
        const std::string value = spec.get(*this);
        out += spec.name + " = ";
        if (spec.secret) {
            out += value.empty() ? "(unset)" : "(set)";
        } else if (spec.quoted) {
            out += '"' + value + '"';
        } else {
            out += value;
        }
        out += '\n';
    }
    return out;
}

void CheckServingConfig(const Config& config) {
    const bool loopback = IsLoopbackUrl(config.public_base_url);
    const std::string where = "public_base_url \"" + config.public_base_url + "\"";
    if (config.payment.mode.empty()) {
        throw ConfigError(
            "payment.mode (PAYMENT_MODE) is not set: set it to live (with the Alipay / WeChat Pay "
            "keys) or, on a development machine, mock (orders are paid for free)");
    }
    if (config.testing.hooks && config.payment.mode == "live") {
        throw ConfigError(
            "testing.hooks is on with payment.mode = live: test routes never run with real money");
    }
    if (config.testing.hooks && !loopback) {
        throw ConfigError("testing.hooks is on and " + where +
                          " is not loopback: test routes never run where the world can reach them");
    }
    if (config.payment.mode == "mock" && !loopback && !config.testing.hooks) {
        throw ConfigError("payment.mode = mock lets anyone pay any order for free, and " + where +
                          " is not loopback: use live, or mock on 127.0.0.1 / localhost only");
    }
}

std::string DescribePaymentMode(const Config& config) {
    const std::string mode = config.payment.mode.empty() ? "(unset)" : config.payment.mode;
    std::string why;
    if (config.payment.mode == "live") {
        why = "Alipay and WeChat Pay, keys loaded";
    } else if (config.payment.mode == "mock") {
        why = IsLoopbackUrl(config.public_base_url)
                  ? "set explicitly; allowed because public_base_url is loopback"
                  : "set explicitly; allowed because testing.hooks is on";
        why += ": POST /api/v1/payment/mock/pay pays any order for free";
    } else {
        why = "refused: payment.mode must be set";
    }
    return "payment mode: " + mode + " (" + why + ")";
}

std::map<std::string, std::string> ProcessEnvironment() {
    std::map<std::string, std::string> env;
    for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
        const std::string_view text(*entry);
        const size_t eq = text.find('=');
        if (eq == std::string_view::npos) continue;
        env.emplace(std::string(text.substr(0, eq)), std::string(text.substr(eq + 1)));
    }
    return env;
}

Config LoadConfig(const ConfigSources& sources) {
    Config config;
    std::string content;
    if (!sources.file_path.empty()) {
        if (!ReadFile(sources.file_path, &content)) {
            throw ConfigError("config file '" + sources.file_path + "' does not exist");
        }
        ApplyFile(config, sources.file_path, content);
    }
    if (!sources.dotenv_path.empty() && ReadFile(sources.dotenv_path, &content)) {
        ApplyFile(config, sources.dotenv_path, content);
    }
    for (const KeySpec& spec : Keys()) {
        const auto it = sources.env.find(spec.env_name);
        if (it != sources.env.end()) Apply(config, spec, spec.env_name, it->second, "environment");
    }
    return config;
}

}  // namespace inkstone::lib::base
