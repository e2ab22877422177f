// The web app end to end (README, "Web app"): the built app (web/dist, `make web`) served by the
// harness's nginx in front of MariaDB, the pool and the DashScope simulator, exactly as the
// integration tests run them; the journeys themselves are web/e2e/run.mjs in headless
// Chromium (playwright-core driving Debian's /usr/bin/chromium). A journey fails on any
// unexpected error toast, page error, CSP violation or request leaving 127.0.0.1.
//
// Two stacks: mock payments (journeys 1-6, and the admin console's 8-11 with an admin made by
// `inkstone-admin grant-admin`, as an operator would) and `payment.mode = live` against the
// WeChat Pay and Alipay fakes of tests/harness/payment_fakes.h (journey 7, the WeChat QR code).
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "tests/harness/api_user.h"
#include "tests/harness/payment_fakes.h"
#include "tests/harness/process.h"
#include "tests/harness/shared_stack.h"
#include "tests/unit/payment_test_keys.h"

namespace inkstone::testing {
namespace {

const std::string kSource = INKSTONE_SOURCE_DIR;

std::string ShellQuote(const std::string& s) {
    std::string out = "'";
    for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return out + "'";
}

/// Runs the journeys against `base_url`; their report goes to this test's output. `env` is
/// extra `NAME=value` assignments for them (the admin's account).
int RunJourneys(const std::string& base_url, const std::string& journeys,
                const std::string& env = "") {
    const std::string command =
        "cd " + ShellQuote(kSource + "/web") + " && " + env +
        " INKSTONE_BASE_URL=" + ShellQuote(base_url) +
        " INKSTONE_SCREENSHOTS=" + ShellQuote(kSource + "/build/web-screenshots") +
        " node e2e/run.mjs " + ShellQuote(journeys) + " 2>&1";
    std::fflush(stdout);
    const int status = std::system(command.c_str());
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

void RequireBuiltApp() {
    ASSERT_FALSE(ReadFile(kSource + "/web/dist/index.html").empty())
        << "web/dist is not built: run `make web` (make test does it first)";
    ASSERT_FALSE(ReadFile(kSource + "/web/node_modules/playwright-core/package.json").empty())
        << "web/node_modules is missing: run `make web`";
}

TEST(WebE2e, MockPaymentJourneys) {
    RequireBuiltApp();
    StackOptions options;
    options.workers = 2;
    options.threads = 8;
    Stack& stack = SharedStack(options);
    EXPECT_EQ(RunJourneys(stack.base_url(), "1,2,3,4,5,6"), 0);
}

/// Registers `username` over the API and gives it the admin role with the CLI, exactly as an
/// operator does (README, "Admin"). The password is the harness's (RegisterUser).
void MakeAdmin(Stack& stack, const std::string& username) {
    RegisterUser(stack.client(), username);
    const std::string command = std::string(INKSTONE_BINARY_DIR) + "/inkstone-admin --config " +
                                ShellQuote(stack.pool().dir() + "/inkstone.conf") +
                                " grant-admin " + ShellQuote(username) + " 2>&1";
    std::fflush(stdout);
    ASSERT_EQ(std::system(command.c_str()), 0) << command;
}

TEST(WebE2e, AdminConsoleJourneys) {
    RequireBuiltApp();
    StackOptions options;
    options.workers = 2;
    options.threads = 8;
    Stack& stack = SharedStack(options);
    const std::string admin = "e2e_admin_" + std::to_string(::getpid());
    MakeAdmin(stack, admin);
    // Journeys 8 (credit adjustment; it also visits the orders pages), 9 (refund in mock mode,
    // the ORDER_REFUND row), 10 (codes and a user's redeem) and 11 (the 403 page).
    EXPECT_EQ(RunJourneys(stack.base_url(), "8,9,10,11",
                          "INKSTONE_ADMIN_USER=" + ShellQuote(admin) +
                              " INKSTONE_ADMIN_PASSWORD=" + ShellQuote("correct horse battery")),
              0);
}

TEST(WebE2e, LiveWechatPayShowsTheQrCode) {
    RequireBuiltApp();
    const std::string key_dir = MakeTempDir("inkstone-web-paykeys");
    FakeAlipayGateway alipay("2021000000000001", MerchantKey().Public(), ProviderKey());
    FakeWechatApi wechat(
        {"1900000001", "wx0000000000000001", "5157F09EFDC096DE15EBE81A47057A7232F1B8E1",
         "PUB_KEY_ID_0114232134912410000000000000000000"},
        MerchantKey().Public(), ProviderKey());
    LivePaymentSetup setup;
    setup.public_base_url = "https://pay.example.com";
    setup.alipay_app_id = "2021000000000001";
    setup.alipay_gateway = alipay.gateway();
    setup.alipay_app_private_pem = MerchantKey().ToPem();
    setup.alipay_public_pem = ProviderKey().Public().ToPem();
    setup.wechat_mchid = "1900000001";
    setup.wechat_appid = "wx0000000000000001";
    setup.wechat_apiv3_key = TestApiV3Key();
    setup.wechat_merchant_serial = "5157F09EFDC096DE15EBE81A47057A7232F1B8E1";
    setup.wechat_platform_serial = "PUB_KEY_ID_0114232134912410000000000000000000";
    setup.wechat_api_base = wechat.base();
    setup.wechat_merchant_private_pem = MerchantKey().ToPem();
    setup.wechat_platform_public_pem = ProviderKey().Public().ToPem();

    StackOptions options;
    options.workers = 1;
    options.threads = 8;
    options.with_simulator = false;
    options.config = LivePaymentConfig(key_dir, setup);
    options.config["jobs.enabled"] = "false";
    Stack stack(GtestStackOptions(options));
    stack.Start();
    EXPECT_EQ(RunJourneys(stack.base_url(), "7"), 0);
    EXPECT_EQ(wechat.native_orders(), 1) << "the page did not make exactly one WeChat Native order";
    stack.Stop();
    RemoveTree(key_dir);
}

}  // namespace
}  // namespace inkstone::testing
