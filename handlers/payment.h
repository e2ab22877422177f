#pragma once
/// Payments (README, "Going live"): the providers' notify endpoints and the mock provider. How
/// an order is paid (PaymentInstructions) is a view, in handlers/credit_views.h.
///
/// Every payment completes through lib::payments::NotifyProcessor and so through
/// lib::billing::Wallet::Settle, the one settlement transaction: a real notify and a mock payment
/// run the same verification and settlement code; the handlers here only speak HTTP.
#include <json/value.h>

#include "handlers/credit_views.h"
#include "lib/base/clock.h"
#include "lib/db/db.h"
#include "lib/http/router.h"
#include "lib/payments/notify.h"

namespace inkstone::handlers {

/// POST /api/v1/payment/alipay/notify (public, form-encoded): Alipay's asynchronous notify,
/// processed by NotifyProcessor::ProcessAlipay. Replies text/plain, as Alipay wants:
/// - `success` (200) once the order is settled now or was before, and for a verified notify that
///   is not a payment (WAIT_BUYER_PAY, TRADE_CLOSED): nothing to do, stop resending;
/// - `fail` (200) for a notify that fails verification or the checks (bad signature, another
///   app_id or seller_id, unknown order, wrong amount): nothing changed; Alipay resends for 25 h;
/// - `fail` (500) when our database failed: nothing committed; Alipay resends.
class AlipayNotifyHandler final : public lib::http::Handler {
  public:
    explicit AlipayNotifyHandler(const lib::payments::NotifyProcessor& processor)
        : processor_(processor) {}
    lib::http::Response Handle(const lib::http::Request& request,
                               lib::http::StreamWriter& stream) const override;

  private:
    const lib::payments::NotifyProcessor& processor_;
};

/// POST /api/v1/payment/wechat/notify (public, any body: the raw bytes are what is signed):
/// WeChat Pay's payment notify, processed by NotifyProcessor::ProcessWechat. Replies:
/// - 204 (no body) once the order is settled now or was before, and for a verified notify that
///   is not a payment (trade_state other than SUCCESS);
/// - 401 `{"code": "FAIL", "message"}` when the notify is not provably WeChat Pay's (missing
///   Wechatpay-* header, unknown serial, timestamp more than 5 minutes off, bad signature);
/// - 400 `{"code": "FAIL", "message"}` when it cannot be used (malformed, not decryptable with
///   the APIv3 key, another mchid or appid, unknown order, wrong amount);
/// - 500 `{"code": "FAIL", "message"}` when our database failed.
/// WeChat Pay resends on any non-2xx answer (15 s up to 24 h).
class WechatNotifyHandler final : public lib::http::Handler {
  public:
    explicit WechatNotifyHandler(const lib::payments::NotifyProcessor& processor)
        : processor_(processor) {}
    lib::http::Response Handle(const lib::http::Request& request,
                               lib::http::StreamWriter& stream) const override;

  private:
    const lib::payments::NotifyProcessor& processor_;
};

/// POST /payment/mock/pay `{"order_no"}` (Auth::kUser; routed only in mock mode) → 200 with the
/// order as GET shows it (status "PAID") plus `"settled_now"`: true for the call that settled
/// it, false for any repeat (which changes nothing). Another user's, a malformed or an unknown
/// order_no → 404. An EXPIRED order is paid too, as a provider's notify for it would be.
/// NotifyProcessor::PayMock builds the notify the order's provider would send, signed with the
/// server's in-memory mock key, and hands it to the same NotifyProcessor function as the real
/// notify endpoint. 503 when the database failed; 404 when payments are live.
class MockPayHandler final : public lib::http::Handler {
  public:
    MockPayHandler(lib::db::Pool& pool, const lib::payments::Providers& providers,
                   const lib::payments::NotifyProcessor& processor)
        : pool_(pool), providers_(providers), processor_(processor) {}

    lib::http::Response Handle(const lib::http::Request& request,
                               lib::http::StreamWriter& stream) const override;

  private:
    lib::db::Pool& pool_;
    const lib::payments::Providers& providers_;
    const lib::payments::NotifyProcessor& processor_;
};

}  // namespace inkstone::handlers
