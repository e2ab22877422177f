#include "lib/base/config.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace inkstone::lib {
using namespace inkstone::lib::base;
namespace {

class ConfigTest : public ::testing::Test {
  protected:
    void SetUp() override {
        char pattern[] = "/tmp/inkstone-config-test-XXXXXX";
        ASSERT_NE(mkdtemp(pattern), nullptr);
        dir_ = pattern;
        sources_.dotenv_path = dir_ + "/.env";  // absent unless a test writes it
    }
    void TearDown() override {
        for (const std::string& path : written_) unlink(path.c_str());
        rmdir(dir_.c_str());
    }

    std::string Write(const std::string& name, const std::string& content) {
        const std::string path = dir_ + "/" + name;
        std::ofstream(path) << content;
        written_.push_back(path);
        return path;
    }
    void WriteFile(const std::string& content) {
        sources_.file_path = Write("inkstone.conf", content);
    }
    void WriteDotenv(const std::string& content) { Write(".env", content); }

    // The ConfigError message LoadConfig throws, or "" (and a failure) when it succeeds.
    std::string LoadError() {
        try {
            LoadConfig(sources_);
        } catch (const ConfigError& e) {
            return e.what();
        }
        ADD_FAILURE() << "LoadConfig succeeded";
        return "";
    }

    std::string dir_;
    std::vector<std::string> written_;
    ConfigSources sources_;
};

bool Contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

TEST_F(ConfigTest, DefaultsWithoutAnySource) {
    const Config config = LoadConfig(sources_);
    EXPECT_EQ(config.db.pool_size, 8);
    EXPECT_EQ(config.fcgi.threads, 32);
    EXPECT_EQ(config.fcgi.listen, "var/run/inkstone.sock");
    EXPECT_EQ(config.log.level, "info");
    EXPECT_EQ(config.auth.token_ttl_s, 7 * 24 * 3600);
    EXPECT_EQ(config.sql_dir, "sql");
}

TEST_F(ConfigTest, PrecedenceIsDefaultThenFileThenDotenvThenEnvironment) {
    WriteFile("db.pool_size = 10\ndb.port = 3310\ndb.name = from_file\nfcgi.threads = 4\n");
    WriteDotenv("DB_PORT=3320\ndb.name=from_dotenv\n");
    sources_.env = {{"DB_NAME", "from_env"}, {"UNRELATED_VARIABLE", "whatever"}};
    const Config config = LoadConfig(sources_);
    EXPECT_EQ(config.db.user, "inkstone");  // default
    EXPECT_EQ(config.db.pool_size, 10);     // file
    EXPECT_EQ(config.fcgi.threads, 4);      // file
    EXPECT_EQ(config.db.port, 3320);        // .env beats file
    EXPECT_EQ(config.db.name, "from_env");  // environment beats both
}

TEST_F(ConfigTest, ParsesCommentsBlanksSpacingAndQuotes) {
    WriteFile(
        "# a comment\n"
        "\n"
        "   # indented comment\n"
        "db.host=10.0.0.5\r\n"
        "  db.user   =   \"app user\"  \n"
        "db.password = 'p#ss = word'\n"
        "DB_SOCKET = \"\"\n"
        "log.file = \"/var/log/inkstone.log\"\n");
    WriteDotenv("export SQL_DIR=\"migrations\"\n");
    const Config config = LoadConfig(sources_);
    EXPECT_EQ(config.db.host, "10.0.0.5");
    EXPECT_EQ(config.db.user, "app user");
    EXPECT_EQ(config.db.password, "p#ss = word");
    EXPECT_EQ(config.db.socket, "");
    EXPECT_EQ(config.log.file, "/var/log/inkstone.log");
    EXPECT_EQ(config.sql_dir, "migrations");
}

TEST_F(ConfigTest, UnknownKeyInFileNamesKeyAndLine) {
    WriteFile("db.port = 3306\n\ndb.pool = 4\n");
    const std::string error = LoadError();
    EXPECT_TRUE(Contains(error, "db.pool")) << error;
    EXPECT_TRUE(Contains(error, "inkstone.conf:3")) << error;
}

TEST_F(ConfigTest, UnknownKeyInDotenvNamesKey) {
    WriteDotenv("DB_PORT=3306\nDB_POOLSIZE=4\n");
    const std::string error = LoadError();
    EXPECT_TRUE(Contains(error, "DB_POOLSIZE")) << error;
    EXPECT_TRUE(Contains(error, ".env:2")) << error;
}

TEST_F(ConfigTest, UnknownEnvironmentVariablesAreIgnored) {
    sources_.env = {{"PATH", "/usr/bin"}, {"DB_POOLSIZE", "x"}, {"db.port", "x"}};
    EXPECT_NO_THROW(LoadConfig(sources_));
}

TEST_F(ConfigTest, BadIntegerNamesKeySourceAndRange) {
    WriteFile("db.pool_size = lots\n");
    std::string error = LoadError();
    EXPECT_TRUE(Contains(error, "inkstone.conf:1")) << error;
    EXPECT_TRUE(Contains(error, "db.pool_size")) << error;
    EXPECT_TRUE(Contains(error, "1 to 1024")) << error;
    EXPECT_TRUE(Contains(error, "lots")) << error;

    for (const char* bad : {"0", "1025", "8.0", "8 ", "+8", "0x10", "", "99999999999999999999"}) {
        WriteFile("");
        sources_.env = {{"DB_POOL_SIZE", bad}};
        error = LoadError();
        EXPECT_TRUE(Contains(error, "environment")) << bad << ": " << error;
        EXPECT_TRUE(Contains(error, "DB_POOL_SIZE")) << bad << ": " << error;
    }
}

TEST_F(ConfigTest, ValidatesRanges) {
    const std::vector<std::pair<std::string, std::string>> bad = {
        {"FCGI_WORKERS", "257"},  {"FCGI_WORKERS", "-1"},         {"FCGI_THREADS", "0"},
        {"FCGI_THREADS", "4097"}, {"FCGI_THREAD_STACK_KB", "32"}, {"DB_PORT", "0"},
        {"DB_PORT", "65536"},     {"FCGI_MAX_REQUESTS", "-1"},    {"LOG_LEVEL", "verbose"},
        {"LOG_LEVEL", "INFO"},    {"FCGI_STATUS_PATH", "status"}, {"DB_HOST", ""},
        {"SQL_DIR", ""},          {"AUTH_TOKEN_TTL_S", "0"},      {"FCGI_LISTEN", ""},
    };
    for (const auto& [name, value] : bad) {
        sources_.env = {{name, value}};
        const std::string error = LoadError();
        EXPECT_TRUE(Contains(error, name)) << name << "=" << value << ": " << error;
    }
    sources_.env = {{"FCGI_WORKERS", "0"},
                    {"FCGI_THREADS", "4096"},
                    {"DB_PORT", "65535"},
                    {"LOG_LEVEL", "debug"},
                    {"FCGI_MAX_REQUESTS", "0"}};
    const Config config = LoadConfig(sources_);
    EXPECT_EQ(config.fcgi.threads, 4096);
    EXPECT_EQ(config.db.port, 65535);
    EXPECT_EQ(config.log.level, "debug");
}

TEST_F(ConfigTest, SecretValueNeverAppearsInErrors) {
    // Secret keys hold strings today; a bad quote is the error they can raise.
    WriteFile("db.password = \"hunter2-secret-value\n");
    const std::string error = LoadError();
    EXPECT_TRUE(Contains(error, "db.password")) << error;
    EXPECT_FALSE(Contains(error, "hunter2")) << error;
}

TEST_F(ConfigTest, MalformedLinesAndDuplicates) {
    WriteFile("db.port\n");
    std::string error = LoadError();
    EXPECT_TRUE(Contains(error, "inkstone.conf:1")) << error;

    WriteFile("db.port = 1\nDB_PORT = 2\n");
    error = LoadError();
    EXPECT_TRUE(Contains(error, "inkstone.conf:2")) << error;
    EXPECT_TRUE(Contains(error, "line 1")) << error;

    WriteFile("db.user = 'app\n");
    error = LoadError();
    EXPECT_TRUE(Contains(error, "quote")) << error;
}

TEST_F(ConfigTest, QwenKeysDefaultsEnvironmentAndValidation) {
    Config config = LoadConfig(sources_);
    EXPECT_EQ(config.qwen.api_key, "");
    EXPECT_EQ(config.qwen.base_url, "https://dashscope.aliyuncs.com/api/v1");
    EXPECT_EQ(config.qwen.connect_timeout_ms, 3000);
    EXPECT_EQ(config.qwen.idle_timeout_ms, 30000);
    EXPECT_EQ(config.qwen.total_timeout_ms, 300000);

    WriteDotenv("QWEN_API_KEY=sk-from-dotenv\nqwen.idle_timeout_ms=250\n");
    sources_.env = {{"QWEN_BASE_URL", "http://127.0.0.1:8090/api/v1"}};
    config = LoadConfig(sources_);
    EXPECT_EQ(config.qwen.api_key, "sk-from-dotenv");
    EXPECT_EQ(config.qwen.idle_timeout_ms, 250);
    EXPECT_EQ(config.qwen.base_url, "http://127.0.0.1:8090/api/v1");
    const std::string described = config.Describe();
    EXPECT_FALSE(Contains(described, "sk-from-dotenv")) << described;
    EXPECT_TRUE(Contains(described, "qwen.api_key = (set)\n")) << described;

    for (const char* bad : {"dashscope.aliyuncs.com", "ftp://x", "https://x/a?b", "http://x y"}) {
        sources_.env = {{"QWEN_BASE_URL", bad}};
        const std::string error = LoadError();
        EXPECT_TRUE(Contains(error, "qwen.base_url")) << error;
    }
    sources_.env = {{"QWEN_TOTAL_TIMEOUT_MS", "0"}};
    EXPECT_TRUE(Contains(LoadError(), "qwen.total_timeout_ms"));
}

TEST_F(ConfigTest, MissingConfigFileIsAnErrorMissingDotenvIsNot) {
    sources_.file_path = dir_ + "/nope.conf";
    const std::string error = LoadError();
    EXPECT_TRUE(Contains(error, "nope.conf")) << error;

    sources_.file_path.clear();
    sources_.dotenv_path = dir_ + "/missing.env";
    EXPECT_NO_THROW(LoadConfig(sources_));
}

TEST_F(ConfigTest, UnreadableConfigPathIsAnError) {
    sources_.file_path = dir_;  // a directory
    EXPECT_THROW(LoadConfig(sources_), ConfigError);
}

TEST_F(ConfigTest, DescribeListsEveryKeyAndHidesSecrets) {
    sources_.env = {{"DB_PASSWORD", "hunter2"}, {"DB_POOL_SIZE", "16"}};
    Config config = LoadConfig(sources_);
    std::string text = config.Describe();
    EXPECT_FALSE(Contains(text, "hunter2")) << text;
    EXPECT_TRUE(Contains(text, "db.password = (set)\n")) << text;
    EXPECT_TRUE(Contains(text, "db.pool_size = 16\n")) << text;
    EXPECT_TRUE(Contains(text, "db.host = \"127.0.0.1\"\n")) << text;
    for (const char* key : {"fcgi.listen",
                            "fcgi.workers",
                            "fcgi.threads",
                            "fcgi.thread_stack_kb",
                            "fcgi.backlog",
                            "fcgi.max_requests",
                            "fcgi.graceful_timeout_s",
                            "fcgi.slow_request_ms",
                            "fcgi.status_path",
                            "db.host",
                            "db.port",
                            "db.socket",
                            "db.user",
                            "db.password",
                            "db.name",
                            "db.pool_size",
                            "db.connect_timeout_s",
                            "db.read_timeout_s",
                            "db.acquire_timeout_ms",
                            "log.file",
                            "log.level",
                            "auth.token_ttl_s",
                            "sql_dir",
                            "public_base_url",
                            "alipay.app_id",
                            "alipay.private_key_file",
                            "alipay.public_key_file",
                            "alipay.gateway",
                            "alipay.seller_id",
                            "wechat.mchid",
                            "wechat.appid",
                            "wechat.apiv3_key",
                            "wechat.private_key_file",
                            "wechat.merchant_serial",
                            "wechat.platform_public_key_file",
                            "wechat.platform_serial",
                            "wechat.api_base",
                            "qwen.api_key",
                            "qwen.base_url",
                            "qwen.connect_timeout_ms",
                            "qwen.idle_timeout_ms",
                            "qwen.total_timeout_ms"}) {
        EXPECT_TRUE(Contains(text, std::string(key) + " = ")) << key;
    }
    config.db.password.clear();
    EXPECT_TRUE(Contains(config.Describe(), "db.password = (unset)\n"));
}

TEST_F(ConfigTest, PaymentKeysDefaultsAndEnvironmentNames) {
    Config config = LoadConfig(sources_);
    EXPECT_EQ(config.public_base_url, "http://127.0.0.1:8080");
    EXPECT_EQ(config.alipay.gateway, "https://openapi.alipay.com/gateway.do");
    EXPECT_EQ(config.wechat.api_base, "https://api.mch.weixin.qq.com");
    EXPECT_EQ(config.alipay.app_id, "");
    EXPECT_EQ(config.wechat.apiv3_key, "");

    WriteFile("alipay.app_id = 2021000000000001\nwechat.mchid = 1900000001\n");
    sources_.env = {{"PUBLIC_BASE_URL", "https://pay.example.com"},
                    {"ALIPAY_PRIVATE_KEY_FILE", "/etc/inkstone/alipay_app.pem"},
                    {"ALIPAY_PUBLIC_KEY_FILE", "/etc/inkstone/alipay_public.txt"},
                    {"ALIPAY_GATEWAY", "http://127.0.0.1:9999/gateway.do"},
                    {"ALIPAY_SELLER_ID", "2088000000000002"},
                    {"WECHAT_APPID", "wx0000000000000001"},
                    {"WECHAT_APIV3_KEY", "0123456789abcdef0123456789ABCDEF"},
                    {"WECHAT_PRIVATE_KEY_FILE", "/etc/inkstone/apiclient_key.pem"},
                    {"WECHAT_MERCHANT_SERIAL", "5157F09EFDC096DE15EBE81A47057A7232F1B8E1"},
                    {"WECHAT_PLATFORM_PUBLIC_KEY_FILE", "/etc/inkstone/pub_key.pem"},
                    {"WECHAT_PLATFORM_SERIAL", "PUB_KEY_ID_0114"},
                    {"WECHAT_API_BASE", "http://127.0.0.1:9998"}};
    config = LoadConfig(sources_);
    EXPECT_EQ(config.public_base_url, "https://pay.example.com");
    EXPECT_EQ(config.alipay.app_id, "2021000000000001");
    EXPECT_EQ(config.alipay.private_key_file, "/etc/inkstone/alipay_app.pem");
    EXPECT_EQ(config.alipay.public_key_file, "/etc/inkstone/alipay_public.txt");
    EXPECT_EQ(config.alipay.gateway, "http://127.0.0.1:9999/gateway.do");
    EXPECT_EQ(config.alipay.seller_id, "2088000000000002");
    EXPECT_EQ(config.wechat.mchid, "1900000001");
    EXPECT_EQ(config.wechat.appid, "wx0000000000000001");
    EXPECT_EQ(config.wechat.apiv3_key, "0123456789abcdef0123456789ABCDEF");
    EXPECT_EQ(config.wechat.private_key_file, "/etc/inkstone/apiclient_key.pem");
    EXPECT_EQ(config.wechat.merchant_serial, "5157F09EFDC096DE15EBE81A47057A7232F1B8E1");
    EXPECT_EQ(config.wechat.platform_public_key_file, "/etc/inkstone/pub_key.pem");
    EXPECT_EQ(config.wechat.platform_serial, "PUB_KEY_ID_0114");
    EXPECT_EQ(config.wechat.api_base, "http://127.0.0.1:9998");

    // The APIv3 key is a secret; the key files' paths are not (operators need to see them).
    const std::string text = config.Describe();
    EXPECT_FALSE(Contains(text, "0123456789abcdef")) << text;
    EXPECT_TRUE(Contains(text, "wechat.apiv3_key = (set)\n")) << text;
    EXPECT_TRUE(Contains(text, "alipay.private_key_file = \"/etc/inkstone/alipay_app.pem\"\n"))
        << text;
    EXPECT_TRUE(Contains(text, "wechat.platform_public_key_file = \"/etc/inkstone/pub_key.pem\"\n"))
        << text;
}

TEST_F(ConfigTest, PaymentUrlsMustBeHttpUrls) {
    for (const char* name : {"PUBLIC_BASE_URL", "ALIPAY_GATEWAY", "WECHAT_API_BASE"}) {
        for (const char* bad :
             {"", "127.0.0.1:8080", "ftp://example.com", "https://a b", "https://example.com/?x=1",
              "https://example.com/#x", "HTTPS//example.com"}) {
            sources_.env = {{name, bad}};
            const std::string error = LoadError();
            EXPECT_TRUE(Contains(error, name)) << name << "=" << bad << ": " << error;
        }
        sources_.env = {{name, "https://example.com:8443/base/"}};
        EXPECT_NO_THROW(LoadConfig(sources_));
    }
}

TEST_F(ConfigTest, DescribeOutputLoadsBackToTheSameConfig) {
    sources_.env = {{"DB_USER", "someone"}, {"FCGI_WORKERS", "3"}, {"LOG_FILE", "/tmp/x.log"}};
    const std::string described = LoadConfig(sources_).Describe();
    std::string without_secrets;
    std::istringstream lines(described);
    for (std::string line; std::getline(lines, line);) {
        if (!Contains(line, "(set)") && !Contains(line, "(unset)")) without_secrets += line + "\n";
    }
    sources_.env.clear();
    WriteFile(without_secrets);
    EXPECT_EQ(LoadConfig(sources_).Describe(), described);
}

std::string ServingError(const Config& config) {
    try {
        CheckServingConfig(config);
    } catch (const ConfigError& e) {
        return e.what();
    }
    return "";
}

// payment.mode fails closed: unset is refused, mock only where the world cannot reach it, and
// the test hooks never with real money or a public URL.
TEST_F(ConfigTest, PaymentModeMustBeChosenAndMockStaysOnLoopback) {
    Config config = LoadConfig(sources_);
    EXPECT_EQ(config.payment.mode, "");
    EXPECT_TRUE(Contains(ServingError(config), "payment.mode (PAYMENT_MODE) is not set"));
    EXPECT_TRUE(Contains(DescribePaymentMode(config), "payment mode: (unset)"));

    config.payment.mode = "mock";
    EXPECT_EQ(ServingError(config), "");  // the default public_base_url is 127.0.0.1
    EXPECT_TRUE(Contains(DescribePaymentMode(config),
                         "payment mode: mock (set explicitly; allowed because public_base_url is "
                         "loopback"));
    config.public_base_url = "https://ink.example.com";
    EXPECT_TRUE(Contains(ServingError(config), "payment.mode = mock"));
    config.public_base_url = "http://localhost:8080";
    EXPECT_EQ(ServingError(config), "");

    config.payment.mode = "live";
    config.public_base_url = "https://ink.example.com";
    EXPECT_EQ(ServingError(config), "");
    EXPECT_TRUE(Contains(DescribePaymentMode(config), "payment mode: live"));

    config.testing.hooks = true;
    EXPECT_TRUE(Contains(ServingError(config), "testing.hooks is on with payment.mode = live"));
    config.payment.mode = "mock";
    EXPECT_TRUE(Contains(ServingError(config), "testing.hooks is on and public_base_url"));
    config.public_base_url = "http://127.0.0.1:9000";
    EXPECT_EQ(ServingError(config), "");
    config.payment.mode = "live";
    EXPECT_TRUE(Contains(ServingError(config), "testing.hooks is on with payment.mode = live"));

    WriteFile("payment.mode = free\n");
    EXPECT_THROW(LoadConfig(sources_), ConfigError);
}

TEST_F(ConfigTest, HardeningLimitsDefaultsAndValidation) {
    const Config defaults = LoadConfig(sources_);
    EXPECT_EQ(defaults.fcgi.allow, "127.0.0.0/8,::1");
    EXPECT_EQ(defaults.payment.max_pending_orders, 5);
    EXPECT_EQ(defaults.auth.hash_wait_ms, 250);
    EXPECT_EQ(defaults.auth.login_failures_per_address, 100);
    EXPECT_EQ(defaults.auth.login_failures_per_username, 100);
    EXPECT_EQ(defaults.auth.registrations_per_address, 20);
    WriteFile("fcgi.allow = 10.0.0.0/8, 192.168.1.1\n");
    EXPECT_EQ(LoadConfig(sources_).fcgi.allow, "10.0.0.0/8, 192.168.1.1");
    WriteFile("fcgi.allow = 10.0.0.0/8,nginx.local\n");
    try {
        LoadConfig(sources_);
        ADD_FAILURE() << "a bad fcgi.allow entry was accepted";
    } catch (const ConfigError& e) {
        EXPECT_TRUE(Contains(e.what(), "fcgi.allow")) << e.what();
        EXPECT_TRUE(Contains(e.what(), "nginx.local")) << e.what();
    }
    WriteFile("payment.max_pending_orders = 0\n");
    EXPECT_THROW(LoadConfig(sources_), ConfigError);
}

TEST_F(ConfigTest, DbHostsIsAListOfHostPort) {
    const Config defaults = LoadConfig(sources_);
    EXPECT_EQ(defaults.db.hosts, "");
    EXPECT_FALSE(defaults.db.sync_wait);
    WriteFile("db.hosts = 10.0.0.1:3306,db2:3307\ndb.sync_wait = true\n");
    const Config config = LoadConfig(sources_);
    EXPECT_EQ(config.db.hosts, "10.0.0.1:3306,db2:3307");
    EXPECT_TRUE(config.db.sync_wait);
    for (const char* bad : {"db1", "db1:", ":3306", "db1:3306,", "db1:99999", "db1:33a6"}) {
        WriteFile(std::string("db.hosts = \"") + bad + "\"\n");
        try {
            LoadConfig(sources_);
            ADD_FAILURE() << "db.hosts accepted " << bad;
        } catch (const ConfigError& e) {
            EXPECT_TRUE(Contains(e.what(), "db.hosts")) << e.what();
        }
    }
}

TEST(ShippedConfigTest, InkstoneConfDocumentsEveryKeyWithItsDefault) {
    // Uncommenting every `# key = value` line of the shipped file must give the defaults.
    std::ifstream in(std::string(INKSTONE_SOURCE_DIR) + "/inkstone.conf");
    ASSERT_TRUE(in.good());
    std::string uncommented;
    int settings = 0;
    for (std::string line; std::getline(in, line);) {
        ASSERT_TRUE(line.empty() || line[0] == '#') << "active line: " << line;
        if (line.rfind("# ", 0) == 0 && line.find(" = ") != std::string::npos &&
            line.find_first_of(" ", 2) == line.find(" = ")) {
            uncommented += line.substr(2) + "\n";
            ++settings;
        }
    }
    char pattern[] = "/tmp/inkstone-conf-XXXXXX";
    const int fd = mkstemp(pattern);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(write(fd, uncommented.data(), uncommented.size()),
              static_cast<ssize_t>(uncommented.size()));
    close(fd);
    ConfigSources sources;
    sources.file_path = pattern;
    sources.dotenv_path.clear();
    const Config config = LoadConfig(sources);
    unlink(pattern);
    EXPECT_EQ(config.Describe(), Config().Describe());
    const std::string described = Config().Describe();
    EXPECT_EQ(settings, std::count(described.begin(), described.end(), '\n')) << uncommented;
}

}  // namespace
}  // namespace inkstone::lib
