#include "lib/payments/notify.h"

#include <json/value.h>

#include <stdexcept>
#include <utility>

#include "lib/base/assert.h"
#include "lib/base/errors.h"
#include "lib/base/log.h"
#include "lib/base/metrics.h"
#include "lib/base/utf8.h"
#include "lib/db/db.h"
#include "lib/http/message.h"
#include "lib/payments/payment_keys.h"

namespace inkstone::lib::payments {
namespace {

using billing::PaymentMethod;
using billing::PaymentProvider;
using billing::SettleOutcome;

constexpr char kAlipay[] = "alipay";
constexpr char kWechat[] = "wechat";
constexpr char kMock[] = "mock";  // mode, in logs

// Mock mode never calls a provider; if a bug made it try, these hosts cannot resolve (RFC 6761).
constexpr char kMockAlipayGateway[] = "http://alipay.invalid/gateway.do";
constexpr char kMockWechatApiBase[] = "http://wechat.invalid";
constexpr char kMockMerchantSerial[] = "MOCK_MERCHANT_SERIAL";
// The orders.code_url column (sql/004_live_payments.sql).
constexpr size_t kMaxCodeUrlChars = 512;

/// A verdict plus what the logs should say about it (never key material or decrypted text).
struct Judged {
    NotifyResult result;
    std::string detail;
};

Judged Verdict(NotifyOutcome outcome, std::string reason, std::string order_no = "",
               std::string detail = "") {
    return Judged{NotifyResult{outcome, std::move(reason), std::move(order_no)}, std::move(detail)};
}

/// One log line per notify or reconciliation: `payment.notify` when the provider gets its
/// success, `payment.security` when the message was forged, tampered with, meant for someone else
/// or disagrees with the order, `payment.notify_failed` when our side failed.
void Report(std::string_view provider, std::string_view kind, std::string_view via,
            std::string_view mode, const Judged& judged) {
    Json::Value fields(Json::objectValue);
    fields["provider"] = std::string(provider);
    fields["via"] = std::string(via);
    if (kind != "payment") fields["kind"] = std::string(kind);
    fields["mode"] = std::string(mode);
    fields["outcome"] = std::string(NotifyOutcomeName(judged.result.outcome));
    if (!judged.result.reason.empty()) fields["reason"] = judged.result.reason;
    if (!judged.result.order_no.empty()) fields["order_no"] = judged.result.order_no;
    if (!judged.detail.empty()) fields["detail"] = judged.detail;
    switch (judged.result.outcome) {
        case NotifyOutcome::kSettled:
        case NotifyOutcome::kAlreadySettled:
        case NotifyOutcome::kIgnored:
            base::Log(base::LogLevel::kInfo, "payment.notify", fields);
            return;
        case NotifyOutcome::kUnauthentic:
        case NotifyOutcome::kRejected:
            base::Log(base::LogLevel::kWarn, "payment.security", fields);
            return;
        case NotifyOutcome::kFailed:
            base::Log(base::LogLevel::kError, "payment.notify_failed", fields);
            return;
    }
}

NotifyOutcome AlipayFailureOutcome(AlipayNotifyError error) {
    return error == AlipayNotifyError::kUnsupportedSignType ||
                   error == AlipayNotifyError::kBadSignature
               ? NotifyOutcome::kUnauthentic
               : NotifyOutcome::kRejected;
}

NotifyOutcome WechatFailureOutcome(WechatNotifyError error) {
    switch (error) {
        case WechatNotifyError::kMissingHeader:
        case WechatNotifyError::kBadSerial:
        case WechatNotifyError::kStaleTimestamp:
        case WechatNotifyError::kBadSignature:
            return NotifyOutcome::kUnauthentic;
        case WechatNotifyError::kMalformedJson:
        case WechatNotifyError::kUnsupportedResource:
        case WechatNotifyError::kBadCiphertext:
        case WechatNotifyError::kMalformedTransaction:
            break;
    }
    return NotifyOutcome::kRejected;
}

Json::Value MockAmount(int64_t fen) {
    Json::Value amount(Json::objectValue);
    amount["total"] = Json::Int64{fen};
    amount["payer_total"] = Json::Int64{fen};
    amount["currency"] = "CNY";
    amount["payer_currency"] = "CNY";
    return amount;
}

const MockProvider& RequireMock(const Providers& providers) {
    INKSTONE_ASSERT(providers.mock() != nullptr, "mock notifies exist only in mock mode");
    return *providers.mock();
}

/// Settles through the wallet; `detail` says what the provider reported, for the log line.
Judged Settle(const Providers& providers, const billing::Wallet& wallet, PaymentProvider provider,
              billing::SettlementNotice notice, std::string detail) {
    // Mock payments are recorded as such, so no database ever shows them as real money.
    notice.provider = providers.live() ? provider : PaymentProvider::kMock;
    std::string order_no = notice.order_no;
    if (!billing::IsWellFormedTradeNo(notice.provider_trade_no)) {
        return Verdict(NotifyOutcome::kRejected, "malformed_trade_no", std::move(order_no),
                       std::move(detail));
    }
    SettleOutcome outcome;
    try {
        outcome = wallet.Settle(notice);
    } catch (const db::DbError& e) {
        // The provider protocols want their own failure reply (and a retry), not the API's JSON
        // 503, so the database failure stops here; nothing was committed.
        return Verdict(NotifyOutcome::kFailed, "database_error", std::move(order_no),
                       detail + "; mysql " + std::to_string(e.code) + ": " + e.what());
    }
    switch (outcome) {
        case SettleOutcome::kSettled:
            return Verdict(NotifyOutcome::kSettled, "", std::move(order_no), std::move(detail));
        case SettleOutcome::kAlreadySettled:
            return Verdict(NotifyOutcome::kAlreadySettled, "", std::move(order_no),
                           std::move(detail));
        case SettleOutcome::kAmountMismatch:
            return Verdict(NotifyOutcome::kRejected, "amount_mismatch", std::move(order_no),
                           std::move(detail));
        case SettleOutcome::kUnknownOrder:
            return Verdict(NotifyOutcome::kRejected, "unknown_order", std::move(order_no),
                           std::move(detail));
        case SettleOutcome::kTradeNoReused:
            return Verdict(NotifyOutcome::kRejected, "trade_no_reused", std::move(order_no),
                           std::move(detail));
    }
    INKSTONE_INVARIANT_FAILED("SettleOutcome " + std::to_string(static_cast<int>(outcome)));
}

}  // namespace

Providers::Providers(AlipayClient alipay, WechatPayClient wechat, std::optional<MockProvider> mock)
    : alipay_(std::move(alipay)), wechat_(std::move(wechat)), mock_(std::move(mock)) {}

MockProvider NewMockProvider() {
    return MockProvider{PrivateKey::GenerateRsa(2048), RandomHex(kAes256KeyBytes / 2)};
}

Providers Providers::FromConfig(const base::Config& config, const MockProvider& mock) {
    if (config.payment.mode == "live") {
        const PaymentKeys keys = LoadPaymentKeys(config);
        return Providers(MakeAlipayClient(config, keys), MakeWechatPayClient(config, keys),
                         std::nullopt);
    }
    AlipayApp app;
    app.app_id = kMockAlipayAppId;
    app.gateway = kMockAlipayGateway;
    app.notify_url = PublicUrl(config, kAlipayNotifyPath);
    WechatMerchant merchant;
    merchant.mchid = kMockWechatMchid;
    merchant.appid = kMockWechatAppid;
    merchant.merchant_serial = kMockMerchantSerial;
    merchant.api_base = kMockWechatApiBase;
    merchant.notify_url = PublicUrl(config, kWechatNotifyPath);
    // The mock key plays every part: it would sign our requests (never sent) and it signs the
    // providers' notifies, which the clients then verify with its public half.
    AlipayClient alipay(app, mock.key, mock.key.Public());
    WechatPayClient wechat(merchant, mock.key,
                           WechatPlatformKey{kMockPlatformSerial, mock.key.Public()},
                           mock.apiv3_key);
    return Providers(std::move(alipay), std::move(wechat), mock);
}

std::string PaymentSubject(const billing::Order& order) {
    if (order.kind == billing::OrderKind::kMembership) {
        return "inkstone 会员 " + std::to_string(order.months) + " 个月";
    }
    std::string subject = "inkstone 积分 " + std::to_string(order.credits);
    if (order.bonus_credits > 0) subject += "+" + std::to_string(order.bonus_credits);
    return subject;
}

void RegisterWithProvider(const Providers& providers, billing::Order& order, base::TimePoint now) {
    if (!providers.live() || order.payment_method != PaymentMethod::kWechat) return;
    WechatNativeOrder native;
    native.out_trade_no = order.order_no;
    native.description = PaymentSubject(order);
    native.total_fen = order.amount_fen;
    // WeChat Pay then refuses payment once the order has expired here, so a payment after expiry
    // (which Settle would still honour) becomes rare.
    native.time_expire = order.expires_at;
    const base::Result<std::string, WechatApiError> code_url =
        providers.wechat().CreateNativeOrder(native, now);
    std::string problem;
    if (!code_url.ok()) {
        problem = std::string(WechatApiErrorName(code_url.error())) + ": " + code_url.detail();
    } else if (code_url.value().size() > kMaxCodeUrlChars) {
        problem = "code_url longer than " + std::to_string(kMaxCodeUrlChars) + " characters";
    }
    if (!problem.empty()) {
        Json::Value fields(Json::objectValue);
        fields["provider"] = kWechat;
        fields["order_no"] = order.order_no;
        fields["error"] = problem;
        base::Log(base::LogLevel::kWarn, "payment.order_upstream_failed", fields);
        throw base::ApiError(base::ErrorCode::kUpstreamError,
                             "WeChat Pay did not accept the order; nothing was created, try again");
    }
    order.code_url = code_url.value();
}

billing::OrderService::ProviderHook RegistrationHook(const Providers& providers) {
    return [&providers](billing::Order& order, base::TimePoint now) {
        RegisterWithProvider(providers, order, now);
    };
}

std::string MockTradeNo(const std::string& order_no) { return "MOCK-" + order_no; }

std::string_view NotifyOutcomeName(NotifyOutcome outcome) {
    switch (outcome) {
        case NotifyOutcome::kSettled:
            return "settled";
        case NotifyOutcome::kAlreadySettled:
            return "already_settled";
        case NotifyOutcome::kIgnored:
            return "ignored";
        case NotifyOutcome::kUnauthentic:
            return "unauthentic";
        case NotifyOutcome::kRejected:
            return "rejected";
        case NotifyOutcome::kFailed:
            return "failed";
    }
    return "unknown";
}

bool NotifyResult::Acknowledged() const {
    return outcome == NotifyOutcome::kSettled || outcome == NotifyOutcome::kAlreadySettled ||
           outcome == NotifyOutcome::kIgnored;
}

NotifyResult NotifyProcessor::ProcessAlipay(std::string_view form_body) const {
    const AlipayClient& client = providers_.alipay();
    const std::string_view mode = providers_.live() ? "live" : kMock;
    const auto judge = [&]() -> Judged {
        const base::Result<AlipayNotice, AlipayNotifyError> verified =
            client.VerifyNotify(form_body);
        if (!verified.ok()) {
            return Verdict(AlipayFailureOutcome(verified.error()),
                           std::string(AlipayNotifyErrorName(verified.error())), "",
                           verified.detail());
        }
        const AlipayNotice& notice = verified.value();
        // Alipay's docs: a notify for another app or seller is to be ignored, however well signed.
        if (notice.app_id != client.app().app_id) {
            return Verdict(NotifyOutcome::kRejected, "app_id_mismatch", notice.out_trade_no,
                           "app_id " + notice.app_id);
        }
        if (!client.app().seller_id.empty() && notice.seller_id != client.app().seller_id) {
            return Verdict(NotifyOutcome::kRejected, "seller_id_mismatch", notice.out_trade_no,
                           "seller_id " + notice.seller_id);
        }
        if (!notice.IsPaid()) {
            return Verdict(NotifyOutcome::kIgnored, "trade_status " + notice.trade_status,
                           notice.out_trade_no);
        }
        billing::SettlementNotice settle;
        settle.order_no = notice.out_trade_no;
        settle.provider_trade_no = notice.trade_no;
        settle.amount_fen = notice.total_amount_fen;
        settle.paid_at = ParseAlipayTimestamp(notice.gmt_payment).value_or(clock_.Now());
        return Settle(providers_, wallet_, PaymentProvider::kAlipay, std::move(settle),
                      "trade_no " + notice.trade_no + ", total_amount_fen " +
                          std::to_string(notice.total_amount_fen));
    };
    const Judged judged = judge();
    Record(kAlipay, "payment", "notify", judged.result, judged.detail);
    return judged.result;
}

NotifyResult NotifyProcessor::ProcessWechat(const WechatSignedHeaders& headers,
                                            std::string_view body) const {
    const WechatPayClient& client = providers_.wechat();
    std::string_view kind = "payment";
    const auto judge = [&]() -> Judged {
        const base::Result<WechatEnvelope, WechatNotifyError> opened =
            client.OpenNotify(headers, body, clock_.Now());
        if (!opened.ok()) {
            return Verdict(WechatFailureOutcome(opened.error()),
                           std::string(WechatNotifyErrorName(opened.error())), "", opened.detail());
        }
        if (opened.value().event_type.rfind("REFUND.", 0) == 0) {
            kind = "refund";
            auto [result, detail] = JudgeWechatRefund(opened.value().plaintext);
            return Judged{std::move(result), std::move(detail)};
        }
        const base::Result<WechatTransaction, WechatTransactionError> parsed =
            ParseWechatTransaction(opened.value().plaintext);
        if (!parsed.ok()) {
            return Verdict(
                NotifyOutcome::kRejected,
                std::string(WechatNotifyErrorName(WechatNotifyError::kMalformedTransaction)), "",
                parsed.detail());
        }
        const WechatTransaction& transaction = parsed.value();
        // WeChat Pay's docs: compare the notify with the merchant's own records (false notifies).
        if (transaction.mchid != client.merchant().mchid) {
            return Verdict(NotifyOutcome::kRejected, "mchid_mismatch", transaction.out_trade_no,
                           "mchid " + transaction.mchid);
        }
        if (transaction.appid != client.merchant().appid) {
            return Verdict(NotifyOutcome::kRejected, "appid_mismatch", transaction.out_trade_no,
                           "appid " + transaction.appid);
        }
        if (!transaction.IsPaid()) {
            return Verdict(NotifyOutcome::kIgnored, "trade_state " + transaction.trade_state,
                           transaction.out_trade_no);
        }
        billing::SettlementNotice settle;
        settle.order_no = transaction.out_trade_no;
        settle.provider_trade_no = transaction.transaction_id;
        settle.amount_fen = transaction.amount_total_fen;
        settle.paid_at = ParseWechatTime(transaction.success_time).value_or(clock_.Now());
        return Settle(providers_, wallet_, PaymentProvider::kWechat, std::move(settle),
                      "transaction_id " + transaction.transaction_id + ", amount.total " +
                          std::to_string(transaction.amount_total_fen));
    };
    const Judged judged = judge();
    Record(kWechat, kind, "notify", judged.result, judged.detail);
    return judged.result;
}

std::pair<NotifyResult, std::string> NotifyProcessor::JudgeWechatRefund(
    const std::string& plaintext) const {
    const auto verdict = [](NotifyOutcome outcome, std::string reason, std::string order_no,
                            std::string detail = "") {
        return std::make_pair(NotifyResult{outcome, std::move(reason), std::move(order_no)},
                              std::move(detail));
    };
    const base::Result<WechatRefund, WechatTransactionError> parsed = ParseWechatRefund(plaintext);
    if (!parsed.ok())
        return verdict(NotifyOutcome::kRejected, "malformed_refund", "", parsed.detail());
    const WechatRefund& refund = parsed.value();
    if (refund.mchid != providers_.wechat().merchant().mchid) {
        return verdict(NotifyOutcome::kRejected, "mchid_mismatch", refund.out_trade_no,
                       "mchid " + refund.mchid);
    }
    if (!refunds_) return verdict(NotifyOutcome::kFailed, "no_database", refund.out_trade_no);
    const std::string detail = "out_refund_no " + refund.out_refund_no + ", refund_id " +
                               refund.refund_id + ", status " + refund.status;
    try {
        const std::optional<billing::OrderRefund> ours =
            refunds_->FindByRefundNo(refund.out_refund_no);
        if (!ours || ours->order_no != refund.out_trade_no) {
            return verdict(NotifyOutcome::kRejected, "unknown_refund", refund.out_trade_no, detail);
        }
        if (refund.refund_fen != 0 && refund.refund_fen != ours->amount_fen) {
            return verdict(NotifyOutcome::kRejected, "amount_mismatch", ours->order_no,
                           detail + ", amount.refund " + std::to_string(refund.refund_fen));
        }
        bool changed = false;
        if (refund.status == "SUCCESS") {
            changed = refunds_->Resolve(refund.out_refund_no, billing::RefundVerdict::kSucceeded,
                                        refund.refund_id, "");
        } else if (refund.status == "CLOSED") {
            changed = refunds_->Resolve(refund.out_refund_no, billing::RefundVerdict::kRefused,
                                        refund.refund_id, "WeChat Pay closed the refund");
        } else {
            if (refund.status == "ABNORMAL") {
                refunds_->NotePending(refund.out_refund_no, refund.refund_id,
                                      "ABNORMAL: the refund could not reach the payer's account; "
                                      "finish it in the WeChat Pay merchant platform");
            }
            return verdict(NotifyOutcome::kIgnored, "refund_status " + refund.status,
                           ours->order_no, detail);
        }
        return verdict(changed ? NotifyOutcome::kSettled : NotifyOutcome::kAlreadySettled, "",
                       ours->order_no, detail);
    } catch (const db::DbError& e) {
        return verdict(NotifyOutcome::kFailed, "database_error", refund.out_trade_no,
                       detail + "; mysql " + std::to_string(e.code) + ": " + e.what());
    }
}

namespace {

constexpr size_t kNotifyOutcomeChars = 48;
constexpr size_t kNotifyDetailChars = 255;
constexpr char kInsertNotifySql[] =
    "INSERT INTO notify_log (provider, order_no, kind, outcome, http_status, detail, received_at) "
    "VALUES (?, ?, ?, ?, ?, ?, ?)";

/// Only printable ASCII (the outcome column is ascii): anything else becomes '?'.
std::string AsciiPrefix(std::string_view text, size_t max) {
    std::string out(text.substr(0, max));
    for (char& c : out) {
        if (c < 0x20 || c > 0x7E) c = '?';
    }
    return out;
}

}  // namespace

void NotifyProcessor::Record(std::string_view provider, std::string_view kind, std::string_view via,
                             const NotifyResult& result, const std::string& detail) const {
    const std::string_view mode = providers_.live() ? "live" : kMock;
    Report(provider, kind, via, mode, Judged{result, detail});
    // Reasons only for what a forger or a broken integration causes (a fixed set of names).
    const bool security =
        result.outcome == NotifyOutcome::kUnauthentic || result.outcome == NotifyOutcome::kRejected;
    base::metrics::Count("inkstone_payment_notifies_total",
                         {{"provider", provider},
                          {"kind", kind},
                          {"via", via},
                          {"outcome", NotifyOutcomeName(result.outcome)},
                          {"reason", security ? std::string_view(result.reason) : ""}});
    if (pool_ == nullptr) return;
    std::string outcome(NotifyOutcomeName(result.outcome));
    if (!result.reason.empty()) outcome += ":" + result.reason;
    std::string text = via == "notify" ? "" : std::string(via) + ": ";
    text += detail;
    const PaymentProvider as =
        provider == kAlipay ? PaymentProvider::kAlipay : PaymentProvider::kWechat;
    const int status = via == "notify" ? NotifyReplyStatus(as, result.outcome) : 0;
    const std::optional<std::string> order_no =
        result.order_no.empty() || result.order_no.size() > 32
            ? std::nullopt
            : std::optional<std::string>(AsciiPrefix(result.order_no, 32));
    const std::optional<std::string> stored_detail =
        text.empty() || !base::IsValidUtf8(text)
            ? std::nullopt
            : std::optional<std::string>(base::Utf8Prefix(text, kNotifyDetailChars));
    try {
        db::WithLease(*pool_, [&](db::Lease& lease) {
            return lease.Execute(kInsertNotifySql, std::string(provider), order_no,
                                 std::string(kind), AsciiPrefix(outcome, kNotifyOutcomeChars),
                                 static_cast<int64_t>(status), stored_detail, clock_.Now());
        });
    } catch (const db::DbError& e) {
        // The notify itself was handled (or failed) already; its history row is best effort.
        Json::Value fields(Json::objectValue);
        fields["provider"] = std::string(provider);
        fields["mysql_code"] = e.code;
        fields["error"] = e.what();
        base::Log(base::LogLevel::kWarn, "payment.notify_log_failed", fields);
    }
}

int NotifyReplyStatus(PaymentProvider provider, NotifyOutcome outcome) {
    if (outcome == NotifyOutcome::kFailed) return 500;
    if (provider != PaymentProvider::kWechat) return 200;
    switch (outcome) {
        case NotifyOutcome::kSettled:
        case NotifyOutcome::kAlreadySettled:
        case NotifyOutcome::kIgnored:
            return 204;
        case NotifyOutcome::kUnauthentic:
            return 401;
        case NotifyOutcome::kRejected:
            return 400;
        case NotifyOutcome::kFailed:
            break;
    }
    return 500;
}

bool NotifyProcessor::Reconcile(const billing::OverdueOrder& order) const {
    if (!providers_.live()) return false;
    const base::TimePoint now = clock_.Now();
    const auto failed = [&](std::string_view provider, std::string_view error,
                            const std::string& detail) {
        Json::Value fields(Json::objectValue);
        fields["provider"] = std::string(provider);
        fields["order_no"] = order.order_no;
        fields["error"] = std::string(error);
        fields["detail"] = detail;
        base::Log(base::LogLevel::kWarn, "payment.reconcile_failed", fields);
        return true;
    };
    const auto settled = [&](PaymentProvider provider, billing::SettlementNotice notice,
                             std::string detail) {
        const Judged judged =
            Settle(providers_, wallet_, provider, std::move(notice), std::move(detail));
        Record(billing::ToSql(provider), "payment", "reconcile", judged.result, judged.detail);
        // A failed settlement is tried again by the next run; a rejected one (the provider's
        // amount differs) must not stay payable: it expires, and the security log says why.
        return judged.result.Acknowledged() || judged.result.outcome == NotifyOutcome::kFailed;
    };

    if (order.payment_method == PaymentMethod::kAlipay) {
        const base::Result<AlipayTrade, AlipayQueryError> trade =
            providers_.alipay().QueryTrade(order.order_no, now);
        if (!trade.ok()) {
            return failed(kAlipay, AlipayQueryErrorName(trade.error()), trade.detail());
        }
        if (!trade.value().IsPaid()) return false;
        billing::SettlementNotice notice;
        notice.order_no = order.order_no;
        notice.provider_trade_no = trade.value().trade_no;
        notice.amount_fen = trade.value().total_amount_fen;
        notice.paid_at = now;
        return settled(PaymentProvider::kAlipay, std::move(notice),
                       "trade_no " + trade.value().trade_no);
    }
    if (order.payment_method == PaymentMethod::kWechat) {
        const base::Result<WechatOrderQuery, WechatApiError> query =
            providers_.wechat().QueryOrder(order.order_no, now);
        if (!query.ok()) {
            return failed(kWechat, WechatApiErrorName(query.error()), query.detail());
        }
        const WechatTransaction& transaction = query.value().transaction;
        if (!query.value().exists || !transaction.IsPaid()) return false;
        if (transaction.appid != providers_.wechat().merchant().appid) {
            Record(kWechat, "payment", "reconcile",
                   NotifyResult{NotifyOutcome::kRejected, "appid_mismatch", order.order_no},
                   "appid " + transaction.appid);
            return false;
        }
        billing::SettlementNotice notice;
        notice.order_no = order.order_no;
        notice.provider_trade_no = transaction.transaction_id;
        notice.amount_fen = transaction.amount_total_fen;
        notice.paid_at = ParseWechatTime(transaction.success_time).value_or(now);
        return settled(PaymentProvider::kWechat, std::move(notice),
                       "transaction_id " + transaction.transaction_id);
    }
    INKSTONE_INVARIANT_FAILED("order " + order.order_no + " has no known payment method");
}

NotifyProcessor::NotifyProcessor(const Providers& providers, const billing::Wallet& wallet,
                                 const base::Clock& clock, db::Pool* pool)
    : providers_(providers), wallet_(wallet), clock_(clock), pool_(pool) {
    if (pool_ != nullptr) refunds_.emplace(*pool_, wallet_, clock_);
}

billing::OrderRefund NotifyProcessor::SubmitRefund(const billing::OrderRefund& refund) const {
    INKSTONE_ASSERT(refunds_.has_value(), "refunds need the database");
    if (refund.status != billing::RefundStatus::kPending) return refund;
    const billing::Refunds& refunds = *refunds_;
    const std::string& no = refund.refund_no;
    const base::TimePoint now = clock_.Now();
    const auto reread = [&] {
        std::optional<billing::OrderRefund> stored = refunds.FindByRefundNo(no);
        INKSTONE_ASSERT(stored.has_value(), "refund " + no + " disappeared");
        return std::move(*stored);
    };
    const auto log = [&](std::string_view provider, const std::string& outcome,
                         const std::string& detail) {
        Json::Value fields(Json::objectValue);
        fields["provider"] = std::string(provider);
        fields["order_no"] = refund.order_no;
        fields["refund_no"] = no;
        fields["outcome"] = outcome;
        if (!detail.empty()) fields["detail"] = detail;
        base::Log(outcome == "succeeded" ? base::LogLevel::kInfo : base::LogLevel::kWarn,
                  "payment.refund", fields);
    };
    const bool mock_paid = refund.provider == PaymentProvider::kMock;
    if (!providers_.live() || mock_paid) {
        if (providers_.live() != !mock_paid) {
            // A mock payment in a live database, or a real one in mock mode: nobody can refund
            // it here (the admin console refuses such refunds before they are opened).
            refunds.NotePending(no, "", "paid in another payment mode: no provider to ask");
            return reread();
        }
        if (refund.method == PaymentMethod::kAlipay) {
            // Alipay refunds synchronously: the mock answers at once.
            refunds.Resolve(no, billing::RefundVerdict::kSucceeded, "MOCK-REFUND-" + no, "");
            log(kAlipay, "succeeded", "mock");
            return reread();
        }
        // WeChat Pay answers PROCESSING and notifies later: the mock sends that notify now,
        // through the real verification path.
        const MockProvider& mock = RequireMock(providers_);
        Json::Value body(Json::objectValue);
        body["mchid"] = providers_.wechat().merchant().mchid;
        body["out_trade_no"] = refund.order_no;
        body["transaction_id"] = MockTradeNo(refund.order_no);
        body["out_refund_no"] = no;
        body["refund_id"] = "MOCK-REFUND-" + no;
        body["refund_status"] = "SUCCESS";
        body["success_time"] = WechatTime(now);
        body["user_received_account"] = "mock";
        Json::Value amount(Json::objectValue);
        amount["total"] = Json::Int64{refund.order_amount_fen};
        amount["refund"] = Json::Int64{refund.amount_fen};
        amount["payer_total"] = Json::Int64{refund.order_amount_fen};
        amount["payer_refund"] = Json::Int64{refund.amount_fen};
        body["amount"] = amount;
        refunds.NotePending(no, "MOCK-REFUND-" + no, "");
        const WechatSignedMessage notify =
            BuildWechatRefundNotify(base::ToJson(body), "REFUND.SUCCESS", mock.apiv3_key, mock.key,
                                    kMockPlatformSerial, now);
        ProcessWechat(notify.headers, notify.body);
        return reread();
    }

    if (refund.method == PaymentMethod::kAlipay) {
        AlipayRefundRequest request;
        request.out_trade_no = refund.order_no;
        request.out_request_no = no;
        request.refund_fen = refund.amount_fen;
        request.reason = refund.reason;
        const base::Result<AlipayRefundReply, AlipayQueryError> reply =
            providers_.alipay().Refund(request, now);
        if (!reply.ok()) {
            const std::string detail = "alipay " +
                                       std::string(AlipayQueryErrorName(reply.error())) + ": " +
                                       reply.detail();
            refunds.NotePending(no, "", detail);
            log(kAlipay, "no_answer", detail);
        } else if (reply.value().accepted) {
            refunds.Resolve(no, billing::RefundVerdict::kSucceeded, reply.value().trade_no, "");
            log(kAlipay, "succeeded", "fund_change " + reply.value().fund_change);
        } else {
            const std::string detail = reply.value().sub_code + " " + reply.value().sub_msg;
            if (IsTransientAlipayRefusal(reply.value().sub_code)) {
                refunds.NotePending(no, "", detail);
                log(kAlipay, "retry_later", detail);
            } else {
                refunds.Resolve(no, billing::RefundVerdict::kRefused, "", detail);
                log(kAlipay, "refused", detail);
            }
        }
        return reread();
    }

    const WechatPayClient& wechat = providers_.wechat();
    WechatRefundRequest request;
    request.out_trade_no = refund.order_no;
    request.out_refund_no = no;
    request.reason = refund.reason;
    request.refund_fen = refund.amount_fen;
    request.total_fen = refund.order_amount_fen;
    // Asked about before (WeChat Pay gave its refund_id): query it; otherwise (first time, or
    // the request may never have arrived) send it, which WeChat Pay answers idempotently.
    base::Result<WechatRefundReply, WechatApiError> reply =
        refund.provider_refund_id ? wechat.QueryRefund(no, now) : wechat.CreateRefund(request, now);
    if (reply.ok() && reply.value().refused && reply.value().code == "RESOURCE_NOT_EXISTS") {
        reply = wechat.CreateRefund(request, now);
    }
    if (!reply.ok()) {
        const std::string detail =
            "wechat " + std::string(WechatApiErrorName(reply.error())) + ": " + reply.detail();
        refunds.NotePending(no, "", detail);
        log(kWechat, "no_answer", detail);
        return reread();
    }
    const WechatRefundReply& answer = reply.value();
    if (answer.refused) {
        const std::string detail = answer.code + " " + answer.message;
        if (IsTransientWechatRefusal(answer.code)) {
            refunds.NotePending(no, "", detail);
            log(kWechat, "retry_later", detail);
        } else {
            refunds.Resolve(no, billing::RefundVerdict::kRefused, "", detail);
            log(kWechat, "refused", detail);
        }
        return reread();
    }
    const std::string& status = answer.refund.status;
    if (status == "SUCCESS") {
        refunds.Resolve(no, billing::RefundVerdict::kSucceeded, answer.refund.refund_id, "");
        log(kWechat, "succeeded", "");
    } else if (status == "CLOSED") {
        refunds.Resolve(no, billing::RefundVerdict::kRefused, answer.refund.refund_id,
                        "WeChat Pay closed the refund");
        log(kWechat, "refused", "CLOSED");
    } else {
        refunds.NotePending(no, answer.refund.refund_id,
                            status == "ABNORMAL"
                                ? "ABNORMAL: the refund could not reach the payer's account; "
                                  "finish it in the WeChat Pay merchant platform"
                                : "");
        log(kWechat, "processing", status);
    }
    return reread();
}

int64_t NotifyProcessor::FollowUpRefunds(int batch,
                                         std::chrono::steady_clock::time_point ask_until) const {
    if (!refunds_) return 0;
    int64_t asked = 0;
    for (const billing::OrderRefund& refund :
         refunds_->Pending(clock_.Now() - std::chrono::minutes(1), batch)) {
        if (std::chrono::steady_clock::now() >= ask_until) break;
        SubmitRefund(refund);
        ++asked;
    }
    return asked;
}

MockPayment NotifyProcessor::PayMock(db::Pool& pool, int64_t user_id,
                                     std::string_view order_no) const {
    const std::optional<billing::OrderKind> kind = billing::OrderKindOf(order_no);
    const base::ApiError not_found(base::ErrorCode::kNotFound, "order not found");
    if (!kind) throw not_found;
    // Ownership first: another user's order is indistinguishable from a missing one.
    const std::optional<billing::Order> order =
        billing::FindUserOrder(pool, *kind, user_id, order_no);
    if (!order) throw not_found;

    const base::TimePoint now = clock_.Now();
    NotifyResult result;
    if (order->payment_method == PaymentMethod::kWechat) {
        const WechatSignedMessage notify = BuildMockWechatNotify(providers_, *order, now);
        result = ProcessWechat(notify.headers, notify.body);
    } else {
        result = ProcessAlipay(BuildMockAlipayNotify(providers_, *order, now));
    }
    if (result.outcome == NotifyOutcome::kFailed) {
        throw base::ApiError(base::ErrorCode::kUnavailable,
                             "the service is temporarily unavailable, try again");
    }
    // The notify was built from the order itself with the worker's own key.
    INKSTONE_ASSERT(result.outcome == NotifyOutcome::kSettled ||
                        result.outcome == NotifyOutcome::kAlreadySettled,
                    "mock notify for " + std::string(order_no) + " not settled: " + result.reason);
    std::optional<billing::Order> paid = billing::FindUserOrder(pool, *kind, user_id, order_no);
    INKSTONE_ASSERT(paid.has_value(), "settled order " + std::string(order_no) + " disappeared");
    return MockPayment{std::move(*paid), result.outcome == NotifyOutcome::kSettled, now};
}

std::string BuildMockAlipayNotify(const Providers& providers, const billing::Order& order,
                                  base::TimePoint now) {
    const MockProvider& mock = RequireMock(providers);
    const AlipayApp& app = providers.alipay().app();
    const std::string amount = FormatAlipayAmount(order.amount_fen);
    AlipayParams params = {
        {"notify_time", AlipayTimestamp(now)},
        {"notify_type", "trade_status_sync"},
        {"notify_id", RandomHex(16)},
        {"app_id", app.app_id},
        {"charset", "utf-8"},
        {"version", "1.0"},
        {"trade_no", MockTradeNo(order.order_no)},
        {"out_trade_no", order.order_no},
        {"buyer_id", "2088000000000000"},
        {"trade_status", "TRADE_SUCCESS"},
        {"total_amount", amount},
        {"receipt_amount", amount},
        {"buyer_pay_amount", amount},
        {"subject", PaymentSubject(order)},
        {"gmt_create", AlipayTimestamp(order.created_at)},
        {"gmt_payment", AlipayTimestamp(now)},
    };
    if (!app.seller_id.empty()) params["seller_id"] = app.seller_id;
    return SignAlipayNotify(std::move(params), mock.key);
}

WechatSignedMessage BuildMockWechatNotify(const Providers& providers, const billing::Order& order,
                                          base::TimePoint now) {
    const MockProvider& mock = RequireMock(providers);
    const WechatMerchant& merchant = providers.wechat().merchant();
    Json::Value transaction(Json::objectValue);
    transaction["mchid"] = merchant.mchid;
    transaction["appid"] = merchant.appid;
    transaction["out_trade_no"] = order.order_no;
    transaction["transaction_id"] = MockTradeNo(order.order_no);
    transaction["trade_type"] = "NATIVE";
    transaction["trade_state"] = "SUCCESS";
    transaction["trade_state_desc"] = "支付成功";
    transaction["bank_type"] = "OTHERS";
    transaction["success_time"] = WechatTime(now);
    transaction["payer"]["openid"] = "mock-openid";
    transaction["amount"] = MockAmount(order.amount_fen);
    return BuildWechatNotify(base::ToJson(transaction), mock.apiv3_key, mock.key,
                             kMockPlatformSerial, now);
}

}  // namespace inkstone::lib::payments
