#include "lib/billing/refunds.h"

#include <algorithm>
#include <utility>

#include "lib/base/assert.h"
#include "lib/base/errors.h"
#include "lib/base/json.h"
#include "lib/base/metrics.h"
#include "lib/base/utf8.h"

namespace inkstone::lib::billing {
namespace {

constexpr char kLockRechargeSql[] =
    "SELECT user_id, status, amount_fen, credits, bonus_credits, paid_provider, payment_method "
    "FROM recharge_orders WHERE order_no = ? FOR UPDATE";
constexpr char kLockMembershipSql[] =
    "SELECT user_id, status, amount_fen, member_from, member_until, paid_provider, "
    "payment_method FROM membership_orders WHERE order_no = ? FOR UPDATE";
constexpr char kLockRechargeIdSql[] =
    "SELECT id FROM recharge_orders WHERE order_no = ? FOR UPDATE";
constexpr char kLockMembershipIdSql[] =
    "SELECT id FROM membership_orders WHERE order_no = ? FOR UPDATE";

constexpr char kRefundColumns[] =
    "r.id, r.refund_no, r.order_no, r.order_kind, r.user_id, r.provider, r.amount_fen, "
    "r.credits, r.status, r.provider_refund_id, r.failure, r.reason, r.created_at, r.updated_at, "
    "r.succeeded_at, COALESCE(ro.payment_method, mo.payment_method) AS payment_method, "
    "COALESCE(ro.amount_fen, mo.amount_fen) AS order_amount_fen";
constexpr char kRefundJoins[] =
    " FROM order_refunds r LEFT JOIN recharge_orders ro ON ro.order_no = r.order_no "
    "LEFT JOIN membership_orders mo ON mo.order_no = r.order_no ";

constexpr char kInsertRefundSql[] =
    "INSERT INTO order_refunds (refund_no, order_no, order_kind, user_id, provider, amount_fen, "
    "credits, status, reason, audit_id, created_at, updated_at) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, 'PENDING', ?, ?, ?, ?)";
constexpr char kLockRefundSql[] =
    "SELECT status, order_kind, user_id, credits FROM order_refunds WHERE refund_no = ? FOR UPDATE";
constexpr char kSucceedRefundSql[] =
    "UPDATE order_refunds SET status = 'SUCCESS', provider_refund_id = COALESCE(?, "
    "provider_refund_id), updated_at = ?, succeeded_at = ? WHERE refund_no = ? AND status = "
    "'PENDING'";
constexpr char kFailRefundSql[] =
    "UPDATE order_refunds SET status = 'FAILED', provider_refund_id = COALESCE(?, "
    "provider_refund_id), failure = ?, updated_at = ? WHERE refund_no = ? AND status = 'PENDING'";
constexpr char kNotePendingSql[] =
    "UPDATE order_refunds SET provider_refund_id = COALESCE(?, provider_refund_id), "
    "failure = ?, updated_at = ? WHERE refund_no = ? AND status = 'PENDING'";

constexpr char kSetMembershipSql[] =
    "UPDATE users SET member_expired_at = ?, updated_at = ? WHERE id = ?";
constexpr char kInsertGrantSql[] =
    "INSERT INTO membership_grants (user_id, source, months, days, expired_before, "
    "expired_after, related_order_no, audit_id, created_at) VALUES (?, ?, 0, ?, ?, ?, ?, ?, ?)";
constexpr char kRefundGrantSql[] =
    "SELECT expired_before, expired_after FROM membership_grants "
    "WHERE related_order_no = ? AND source = 'ORDER_REFUND'";

constexpr char kStatusPending[] = "PENDING";
constexpr char kStatusSuccess[] = "SUCCESS";
constexpr char kStatusFailed[] = "FAILED";
constexpr size_t kMaxFailureChars = 255;

base::ApiError Conflict(const char* code, std::string detail) {
    return base::ApiError::Specific(base::ErrorCode::kConflict, code, std::move(detail));
}

Json::Value AccountJson(const LockedAccount& account) {
    Json::Value json(Json::objectValue);
    json["credits"] = Json::Int64{account.credits};
    json["member_expired_at"] = base::TimeOrNull(account.member_expired_at);
    return json;
}

OrderRefund ReadRefund(const db::Rows& row) {
    OrderRefund refund;
    refund.id = row.Int("id");
    refund.refund_no = row.String("refund_no");
    refund.order_no = row.String("order_no");
    refund.kind =
        row.String("order_kind") == "membership" ? OrderKind::kMembership : OrderKind::kRecharge;
    refund.user_id = row.Int("user_id");
    INKSTONE_ASSERT(FromSql(row.String("provider"), &refund.provider),
                    "refund " + refund.refund_no + " has an unknown provider");
    if (!row.IsNull("payment_method")) {
        INKSTONE_ASSERT(FromSql(row.String("payment_method"), &refund.method),
                        "refund " + refund.refund_no + " has an unknown payment method");
    }
    refund.amount_fen = row.Int("amount_fen");
    refund.order_amount_fen = row.OptionalInt("order_amount_fen").value_or(0);
    refund.credits = row.Int("credits");
    INKSTONE_ASSERT(FromSql(row.String("status"), &refund.status),
                    "refund " + refund.refund_no + " has an unknown status");
    refund.provider_refund_id = row.OptionalString("provider_refund_id");
    refund.failure = row.OptionalString("failure");
    refund.reason = row.String("reason");
    refund.created_at = row.Time("created_at");
    refund.updated_at = row.Time("updated_at");
    refund.succeeded_at = row.OptionalTime("succeeded_at");
    return refund;
}

std::optional<OrderRefund> FindWhere(db::Pool& pool, const std::string& where,
                                     std::string_view value) {
    const std::string sql = std::string("SELECT ") + kRefundColumns + kRefundJoins + where;
    return db::WithLease(pool, [&](db::Lease& lease) -> std::optional<OrderRefund> {
        db::Rows row = lease.Query(sql.c_str(), value);
        if (!row.Next()) return std::nullopt;
        return ReadRefund(row);
    });
}

void CountRefund(const OrderRefund& refund, const char* status) {
    base::metrics::Count("inkstone_orders_refunded_total",
                         {{"kind", refund.kind == OrderKind::kRecharge ? "recharge" : "membership"},
                          {"provider", ToSql(refund.provider)},
                          {"status", status}});
}

/// floor(a × b / c) without overflow for any amounts the schema allows.
int64_t MulDiv(int64_t a, int64_t b, int64_t c) {
    return static_cast<int64_t>(static_cast<__int128>(a) * b / c);
}

}  // namespace

std::string_view ToSql(RefundStatus status) {
    switch (status) {
        case RefundStatus::kPending:
            return kStatusPending;
        case RefundStatus::kSuccess:
            return kStatusSuccess;
        case RefundStatus::kFailed:
            return kStatusFailed;
    }
    INKSTONE_INVARIANT_FAILED("RefundStatus " + std::to_string(static_cast<int>(status)));
}

bool FromSql(std::string_view text, RefundStatus* status) {
    for (RefundStatus s : {RefundStatus::kPending, RefundStatus::kSuccess, RefundStatus::kFailed}) {
        if (ToSql(s) == text) {
            *status = s;
            return true;
        }
    }
    return false;
}

std::string RefundNoFor(std::string_view order_no) { return "RF" + std::string(order_no); }

OpenedRefund Refunds::Open(const RefundRequest& request, const RefundAuditHook& audit) const {
    const std::optional<OrderKind> kind = OrderKindOf(request.order_no);
    if (!kind) throw base::ApiError(base::ErrorCode::kNotFound, "order not found");
    const std::string& order_no = request.order_no;
    try {
        return db::RetryOnAborted(pool_, "order.refund", [&](db::Transaction& tx) {
            const base::TimePoint now = clock_.Now();
            const bool recharge = *kind == OrderKind::kRecharge;
            db::Rows order = tx.Query(recharge ? kLockRechargeSql : kLockMembershipSql, order_no);
            if (!order.Next()) throw base::ApiError(base::ErrorCode::kNotFound, "order not found");
            if (order.String("status") != "PAID") {
                throw Conflict("NOT_PAID", "only a paid order can be refunded");
            }
            if (tx.Query("SELECT 1 FROM order_refunds WHERE order_no = ?", order_no).Next()) {
                throw Conflict("ALREADY_REFUNDED", "this order has been refunded already");
            }
            OrderRefund refund;
            refund.refund_no = RefundNoFor(order_no);
            refund.order_no = order_no;
            refund.kind = *kind;
            refund.user_id = order.Int("user_id");
            refund.order_amount_fen = order.Int("amount_fen");
            refund.reason = request.reason;
            refund.created_at = now;
            refund.updated_at = now;
            INKSTONE_ASSERT(FromSql(order.String("paid_provider"), &refund.provider),
                            "paid order " + order_no + " without a known provider");
            INKSTONE_ASSERT(FromSql(order.String("payment_method"), &refund.method),
                            "order " + order_no + " without a known payment method");
            if (request.amount_fen &&
                (*request.amount_fen < 1 || *request.amount_fen > refund.order_amount_fen)) {
                throw base::ApiError::Validation(
                    "amount_fen", "must be 1.." + std::to_string(refund.order_amount_fen));
            }

            std::optional<LockedAccount> account = wallet_.LockAccountIn(tx, refund.user_id);
            INKSTONE_ASSERT(account.has_value(), "order " + order_no + " of a missing user");
            const Json::Value before = AccountJson(*account);
            std::optional<base::TimePoint> expired_before;
            std::optional<base::TimePoint> expired_after;
            base::TimePoint::duration unused{0};
            if (recharge) {
                refund.amount_fen = request.amount_fen.value_or(refund.order_amount_fen);
                const int64_t all = order.Int("credits") + order.Int("bonus_credits");
                refund.credits = refund.amount_fen == refund.order_amount_fen
                                     ? all
                                     : MulDiv(refund.amount_fen, all, refund.order_amount_fen);
                if (refund.credits > 0) {
                    LedgerLinks links;
                    links.related_order_no = order_no;
                    wallet_.PostLockedIn(tx, *account, LedgerType::kOrderRefund, -refund.credits,
                                         "Refund of order " + order_no, links);
                }
            } else {
                const base::TimePoint from = order.Time("member_from");
                const base::TimePoint until = order.Time("member_until");
                const base::TimePoint start = std::max(now, from);
                if (start >= until) {
                    throw Conflict("MEMBERSHIP_IN_USE",
                                   "the order's membership period is over: nothing to refund");
                }
                unused = until - start;
                const int64_t refundable =
                    from >= now
                        ? refund.order_amount_fen
                        : MulDiv(
                              refund.order_amount_fen,
                              std::chrono::duration_cast<std::chrono::microseconds>(unused).count(),
                              std::chrono::duration_cast<std::chrono::microseconds>(until - from)
                                  .count());
                refund.amount_fen = request.amount_fen.value_or(refundable);
                if (refundable < 1 || refund.amount_fen > refundable) {
                    base::ApiError error =
                        Conflict("MEMBERSHIP_IN_USE",
                                 "part of the order's period has been used: at most " +
                                     std::to_string(refundable) + " fen can be refunded");
                    error.extra["refundable_fen"] = Json::Int64{refundable};
                    throw error;
                }
                expired_before = account->member_expired_at;
                const base::TimePoint current = account->member_expired_at.value_or(now);
                expired_after = std::max(now, current - unused);
                tx.Execute(kSetMembershipSql, *expired_after, now, refund.user_id);
                account->member_expired_at = expired_after;
            }
            const Json::Value after = AccountJson(*account);
            std::optional<int64_t> audit_id;
            if (audit) audit_id = audit(tx, refund, before, after);
            if (!recharge) {
                const int64_t days =
                    -std::chrono::duration_cast<std::chrono::hours>(unused).count() / 24;
                tx.Insert(kInsertGrantSql, refund.user_id, std::string("ORDER_REFUND"), days,
                          expired_before, expired_after, order_no, audit_id, now);
            }
            refund.id = tx.Insert(kInsertRefundSql, refund.refund_no, order_no,
                                  std::string(recharge ? "recharge" : "membership"), refund.user_id,
                                  refund.provider, refund.amount_fen, refund.credits, refund.reason,
                                  audit_id, now, now);
            tx.lease().AfterCommit([refund] { CountRefund(refund, "opened"); });
            return OpenedRefund{refund, account->credits, account->member_expired_at};
        });
    } catch (const db::DbError& e) {
        // A concurrent refund of the order on another node won the UNIQUE key (the order's row
        // lock serialises them on one server; Galera certifies the keys across nodes).
        if (e.code == 1062)
            throw Conflict("ALREADY_REFUNDED", "this order has been refunded already");
        throw;
    }
}

bool Refunds::Resolve(std::string_view refund_no, RefundVerdict verdict,
                      const std::string& provider_refund_id, const std::string& detail) const {
    const std::optional<OrderRefund> known = FindByRefundNo(refund_no);
    if (!known || known->status != RefundStatus::kPending) return false;
    const std::optional<std::string> id =
        provider_refund_id.empty() ? std::nullopt : std::optional<std::string>(provider_refund_id);
    return db::RetryOnAborted(pool_, "order.refund_resolve", [&](db::Transaction& tx) {
        const base::TimePoint now = clock_.Now();
        const bool recharge = known->kind == OrderKind::kRecharge;
        // The order's lock first, as Open and Settle take it.
        tx.Query(recharge ? kLockRechargeIdSql : kLockMembershipIdSql, known->order_no).Next();
        db::Rows row = tx.Query(kLockRefundSql, refund_no);
        if (!row.Next() || row.String("status") != kStatusPending) return false;
        if (verdict == RefundVerdict::kSucceeded) {
            if (tx.Execute(kSucceedRefundSql, id, now, now, refund_no) != 1) return false;
            tx.lease().AfterCommit([refund = *known] {
                CountRefund(refund, "succeeded");
                base::metrics::Count("inkstone_refunded_fen_total",
                                     {{"provider", ToSql(refund.provider)}},
                                     static_cast<double>(refund.amount_fen));
            });
            return true;
        }
        const std::string failure =
            base::Utf8Prefix(detail.empty() ? "refused" : detail, kMaxFailureChars);
        if (tx.Execute(kFailRefundSql, id, failure, now, refund_no) != 1) return false;
        tx.lease().AfterCommit([refund = *known] { CountRefund(refund, "failed"); });
        std::optional<LockedAccount> account = wallet_.LockAccountIn(tx, known->user_id);
        INKSTONE_ASSERT(account.has_value(), "refund " + known->refund_no + " of a missing user");
        if (recharge) {
            if (known->credits > 0) {
                LedgerLinks links;
                links.related_order_no = known->order_no;
                wallet_.PostLockedIn(tx, *account, LedgerType::kOrderRefundVoid, known->credits,
                                     "Refund of order " + known->order_no + " refused", links);
            }
            return true;
        }
        db::Rows grant = tx.Query(kRefundGrantSql, known->order_no);
        INKSTONE_ASSERT(grant.Next(), "membership refund " + known->refund_no + " without grant");
        const std::optional<base::TimePoint> cut_from = grant.OptionalTime("expired_before");
        const base::TimePoint cut_to = grant.Time("expired_after");
        const base::TimePoint::duration cut =
            cut_from && *cut_from > cut_to ? *cut_from - cut_to : base::TimePoint::duration{0};
        const base::TimePoint restored =
            std::max(now, account->member_expired_at.value_or(now)) + cut;
        tx.Execute(kSetMembershipSql, restored, now, known->user_id);
        tx.Insert(kInsertGrantSql, known->user_id, std::string("ORDER_REFUND_VOID"),
                  std::chrono::duration_cast<std::chrono::hours>(cut).count() / 24,
                  account->member_expired_at, restored, known->order_no, std::optional<int64_t>(),
                  now);
        return true;
    });
}

void Refunds::NotePending(std::string_view refund_no, const std::string& provider_refund_id,
                          const std::string& detail) const {
    const std::optional<std::string> id =
        provider_refund_id.empty() ? std::nullopt : std::optional<std::string>(provider_refund_id);
    const std::optional<std::string> failure =
        detail.empty() ? std::nullopt
                       : std::optional<std::string>(base::Utf8Prefix(detail, kMaxFailureChars));
    db::WithLease(pool_, [&](db::Lease& lease) {
        return lease.Execute(kNotePendingSql, id, failure, clock_.Now(), refund_no);
    });
}

std::optional<OrderRefund> Refunds::FindByOrder(std::string_view order_no) const {
    return FindWhere(pool_, "WHERE r.order_no = ?", order_no);
}

std::optional<OrderRefund> Refunds::FindByRefundNo(std::string_view refund_no) const {
    return FindWhere(pool_, "WHERE r.refund_no = ?", refund_no);
}

std::vector<OrderRefund> Refunds::Pending(base::TimePoint before, int limit) const {
    const std::string sql = std::string("SELECT ") + kRefundColumns + kRefundJoins +
                            "WHERE r.status = 'PENDING' AND r.updated_at < ? "
                            "ORDER BY r.updated_at LIMIT ?";
    return db::WithLease(pool_, [&](db::Lease& lease) {
        std::vector<OrderRefund> out;
        db::Rows rows = lease.Query(sql.c_str(), before, static_cast<int64_t>(limit));
        while (rows.Next()) out.push_back(ReadRefund(rows));
        return out;
    });
}

}  // namespace inkstone::lib::billing
