#pragma once
/// Payments on top of the protocol layer (lib/payments/alipay.h, lib/payments/wechatpay.h) and
/// the wallet (README, "Going live"): which providers a worker pays with, what a provider learns
/// of a new order, what a provider's notify does (verify, compare with our side, settle), what
/// the expiry job asks a provider before expiring an order, and the signed notifies mock mode
/// builds so that development runs the real verification code.
///
/// One path for every payment: a notify from Alipay or WeChat Pay, a mock payment and a
/// reconciliation all end in billing::Wallet::Settle, the one settlement transaction, and every
/// notify, real or mock, passes the same NotifyProcessor function for its provider.
///
/// Thread-safe: everything here is immutable after construction.
#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "lib/base/clock.h"
#include "lib/base/config.h"
#include "lib/billing/order_service.h"
#include "lib/billing/orders.h"
#include "lib/billing/refunds.h"
#include "lib/billing/wallet.h"
#include "lib/db/db.h"
#include "lib/payments/alipay.h"
#include "lib/payments/crypto.h"
#include "lib/payments/wechatpay.h"

namespace inkstone::lib::payments {

/// Mock mode's stand-in for both providers: one RSA key, which signs mock notifies as Alipay and
/// as WeChat Pay (platform key), and a random APIv3 key that encrypts mock WeChat notifies. Made
/// in memory when the server starts (`inkstone`'s master, before it forks the workers, which
/// inherit it) and never written anywhere, so nothing outside the server can produce a notify
/// that verifies with it.
struct MockProvider {
    PrivateKey key;
    std::string apiv3_key;
};

/// A fresh MockProvider: one RSA-2048 key generation (tens to hundreds of milliseconds, which is
/// why a server makes it once, not per worker) and 32 random characters.
MockProvider NewMockProvider();

/// The ids mock mode's clients are configured with (checked in mock notifies like real ids).
inline constexpr char kMockAlipayAppId[] = "mock-alipay-app";
inline constexpr char kMockWechatMchid[] = "mock-mchid";
inline constexpr char kMockWechatAppid[] = "mock-appid";
inline constexpr char kMockPlatformSerial[] = "MOCK_PUB_KEY_ID";

/// The providers one worker pays with.
class Providers final {
  public:
    /// `payment.mode = live`: the keys from LoadPaymentKeys (throws ConfigError naming a missing
    /// or unreadable key) and the configured clients; `mock` is not used. Mock: `mock` and
    /// clients around it with the mock ids, whose gateway and API base point at `.invalid`
    /// hosts, since mock mode never calls a provider.
    static Providers FromConfig(const base::Config& config, const MockProvider& mock);

    bool live() const { return !mock_.has_value(); }
    const AlipayClient& alipay() const { return alipay_; }
    const WechatPayClient& wechat() const { return wechat_; }
    /// Mock mode's signing side; nullptr when live.
    const MockProvider* mock() const { return mock_ ? &*mock_ : nullptr; }

  private:
    Providers(AlipayClient alipay, WechatPayClient wechat, std::optional<MockProvider> mock);

    AlipayClient alipay_;
    WechatPayClient wechat_;
    std::optional<MockProvider> mock_;
};

/// What the payer sees as the order's subject (Alipay `subject`, WeChat Pay `description`):
/// "inkstone 积分 100+10" for a recharge, "inkstone 会员 3 个月" for a membership.
std::string PaymentSubject(const billing::Order& order);

/// Tells the order's provider about a new order before it is stored, where the provider needs
/// that: live WeChat Pay orders are created as Native orders (out_trade_no = order_no,
/// time_expire = expires_at) and their code_url is put into `order`. A failure there is
/// ApiError 502 UPSTREAM_ERROR (logged `payment.order_upstream_failed`). Nothing to do for Alipay
/// (the page URL is signed locally) or in mock mode.
void RegisterWithProvider(const Providers& providers, billing::Order& order, base::TimePoint now);

/// RegisterWithProvider as billing::OrderService's hook; `providers` must outlive it.
billing::OrderService::ProviderHook RegistrationHook(const Providers& providers);

/// The trade number a mock payment of `order_no` reports: one per order, so paying it again is
/// a duplicate notify, exactly like a provider's retry.
std::string MockTradeNo(const std::string& order_no);

// --- Notifies ---

enum class NotifyOutcome {
    kSettled,         ///< this notify marked the order PAID and applied its effect
    kAlreadySettled,  ///< the order was PAID before (a duplicate or retry): no effect
    kIgnored,         ///< authentic but not a payment (WAIT_BUYER_PAY, TRADE_CLOSED, NOTPAY...)
    kUnauthentic,     ///< not provably the provider's: signature, sign type, serial, timestamp
    kRejected,        ///< unusable: malformed, another app / merchant, unknown order, wrong
                      ///< amount, a trade number that settled another order
    kFailed,          ///< our side failed (the database): nothing committed, the provider retries
};

/// `"settled"`, `"already_settled"`, `"ignored"`, `"unauthentic"`, `"rejected"`, `"failed"`.
std::string_view NotifyOutcomeName(NotifyOutcome outcome);

/// The HTTP status the notify handler answers a provider with for `outcome`: Alipay 200 (its
/// body says "success" or "fail"), 500 when our side failed; WeChat Pay 204 when acknowledged,
/// 401 unauthentic, 400 rejected, 500 failed.
int NotifyReplyStatus(billing::PaymentProvider provider, NotifyOutcome outcome);

struct NotifyResult {
    NotifyOutcome outcome = NotifyOutcome::kRejected;
    /// Why, for logs and replies: "bad_signature", "stale_timestamp", "app_id_mismatch",
    /// "amount_mismatch", "unknown_order", "trade_status WAIT_BUYER_PAY", ...; "" when settled.
    std::string reason;
    std::string order_no;  ///< the out_trade_no once the notify was readable, else ""

    /// Settled, already settled or ignored: tell the provider to stop resending.
    bool Acknowledged() const;
};

/// What a mock payment did: the order as read after it (PAID), and whether this call settled it.
struct MockPayment {
    billing::Order order;
    bool settled_now = false;
    base::TimePoint at;  ///< when it was paid (the clock's now)
};

/// Processes provider notifies, reconciles overdue orders and asks providers for refunds. Every
/// notify is recorded once in `notify_log` (its own statement, never inside the settlement
/// transaction, so a rejected notify is recorded too; when a pool was given) and logged once:
/// `payment.notify` (info) when acknowledged, `payment.security` (warn: provider, reason,
/// detail, order_no; never a key, a signature or a decrypted resource) when unauthentic or
/// rejected, `payment.notify_failed` (error) when the database failed.
class NotifyProcessor final {
  public:
    /// `pool` (may be null in unit tests: no notify_log rows, and refunds are unavailable).
    NotifyProcessor(const Providers& providers, const billing::Wallet& wallet,
                    const base::Clock& clock, db::Pool* pool = nullptr);

    /// An Alipay notify, the form body exactly as received: VerifyAlipayNotify (RSA2 with
    /// Alipay's key); then app_id must be ours and, when alipay.seller_id is set, seller_id too;
    /// TRADE_SUCCESS / TRADE_FINISHED settle (trade_no, total_amount against the order's amount,
    /// gmt_payment as paid_at), any other trade_status is ignored.
    NotifyResult ProcessAlipay(std::string_view form_body) const;

    /// A WeChat Pay notify: its four Wechatpay-* headers and the raw body exactly as received.
    /// VerifyWechatNotify (platform key chosen by serial, ±5 min, AES-256-GCM with the APIv3
    /// key); then mchid and appid must be ours; trade_state SUCCESS settles (transaction_id,
    /// amount.total against the order's amount, success_time as paid_at), any other state is
    /// ignored. A refund notify (event REFUND.*, resource "refund") resolves the refund of its
    /// out_refund_no: SUCCESS marks it SUCCESS, CLOSED marks it FAILED (what the refund took is
    /// given back), ABNORMAL leaves it PENDING with the reason (the operator finishes it in the
    /// merchant platform); its out_trade_no and mchid must match ours.
    NotifyResult ProcessWechat(const WechatSignedHeaders& headers, std::string_view body) const;

    /// The expiry job's billing::Reconciler (live mode): asks the order's provider about it
    /// (alipay.trade.query, or WeChat Pay's query by out_trade_no) and, when the provider says it
    /// was paid, settles it as a notify would (same amount check). True when the order must not
    /// expire in this run: it was paid (now settled), or the provider could not be asked (logged
    /// `payment.reconcile_failed`; the next run asks again). False when the provider knows no
    /// payment, and in mock mode (nobody to ask). Database failures escape as db::DbError.
    bool Reconcile(const billing::OverdueOrder& order) const;

    /// Mock mode's payment of the user's order `order_no` (POST /payment/mock/pay): builds the
    /// notify the order's provider would send (an Alipay form for alipay orders, an encrypted
    /// WeChat Pay notify for wechat orders), signed with the mock key, and processes it with
    /// ProcessAlipay / ProcessWechat like a real one. An EXPIRED order is paid too; a repeat
    /// changes nothing (settled_now false). ApiError 404 for a malformed or unknown order_no or
    /// another user's order, 503 UNAVAILABLE when the database failed. Mock mode only (a broken
    /// invariant when live).
    MockPayment PayMock(db::Pool& pool, int64_t user_id, std::string_view order_no) const;

    /// Asks the refund's provider to refund it and records the answer (README, "Refunds"):
    /// Alipay (alipay.trade.refund, synchronous) and WeChat Pay (POST
    /// /v3/refund/domestic/refunds; a refund asked about before is queried instead) with
    /// out_refund_no / out_request_no = the refund_no, so a repeat never refunds twice. SUCCESS
    /// or a definitive refusal resolves it (billing::Refunds::Resolve); PROCESSING, a transient
    /// refusal or no answer leaves it PENDING for FollowUpRefunds. Mock mode simulates the
    /// providers through the same path: an Alipay order is refunded at once, a WeChat Pay order
    /// by a mock REFUND.SUCCESS notify processed by ProcessWechat. A refund that is not PENDING
    /// is returned as it is. Returns the refund as stored afterwards. Database failures escape.
    billing::OrderRefund SubmitRefund(const billing::OrderRefund& refund) const;

    /// The refunds job: SubmitRefund for PENDING refunds not updated for a minute, up to
    /// `batch`, none after `ask_until`. Returns how many it asked about.
    int64_t FollowUpRefunds(int batch, std::chrono::steady_clock::time_point ask_until) const;

    /// payment.mode = live.
    bool live() const { return providers_.live(); }

    /// The refunds' ledger side; nullptr without a pool.
    const billing::Refunds* refunds() const { return refunds_ ? &*refunds_ : nullptr; }

  private:
    /// Logs the verdict and records its notify_log row (kind `payment` or `refund`; `via`
    /// `notify` or `reconcile`). `detail` is for the log and the row, never a key or a
    /// decrypted resource.
    void Record(std::string_view provider, std::string_view kind, std::string_view via,
                const NotifyResult& result, const std::string& detail) const;
    /// ProcessWechat's verdict on a decrypted refund resource, and its detail.
    std::pair<NotifyResult, std::string> JudgeWechatRefund(const std::string& plaintext) const;

    const Providers& providers_;
    const billing::Wallet& wallet_;
    const base::Clock& clock_;
    db::Pool* pool_;
    std::optional<billing::Refunds> refunds_;
};

// --- Mock mode ---

/// The notify Alipay would POST for `order` paid in full at `now` (trade_status TRADE_SUCCESS,
/// trade_no MockTradeNo), signed with the mock key. A broken invariant (base::InvariantError, a
/// std::logic_error) when `providers` is live.
std::string BuildMockAlipayNotify(const Providers& providers, const billing::Order& order,
                                  base::TimePoint now);

/// The notify WeChat Pay would POST for `order` paid in full at `now` (trade_state SUCCESS,
/// transaction_id MockTradeNo), encrypted with the mock APIv3 key and signed with the mock key.
/// A broken invariant (base::InvariantError, a std::logic_error) when `providers` is live.
WechatSignedMessage BuildMockWechatNotify(const Providers& providers, const billing::Order& order,
                                          base::TimePoint now);

}  // namespace inkstone::lib::payments
