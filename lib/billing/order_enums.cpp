#include "lib/billing/order_enums.h"

#include <string>

#include "lib/base/assert.h"

namespace inkstone::lib::billing {
namespace {

/// The strict inverse of ToSql over `values`.
template <class E, size_t N>
bool Parse(std::string_view text, const E (&values)[N], E* out) {
    for (E value : values) {
        if (ToSql(value) == text) {
            *out = value;
            return true;
        }
    }
    return false;
}

[[noreturn]] void Unknown(const char* type, int value) {
    INKSTONE_INVARIANT_FAILED(std::string(type) + " " + std::to_string(value));
}

}  // namespace

std::string_view ToSql(OrderStatus status) {
    switch (status) {
        case OrderStatus::kPending:
            return "PENDING";
        case OrderStatus::kPaid:
            return "PAID";
        case OrderStatus::kExpired:
            return "EXPIRED";
    }
    Unknown("OrderStatus", static_cast<int>(status));
}

bool FromSql(std::string_view text, OrderStatus* status) {
    static constexpr OrderStatus kAll[] = {OrderStatus::kPending, OrderStatus::kPaid,
                                           OrderStatus::kExpired};
    return Parse(text, kAll, status);
}

std::string_view ToSql(PaymentMethod method) {
    switch (method) {
        case PaymentMethod::kAlipay:
            return "alipay";
        case PaymentMethod::kWechat:
            return "wechat";
    }
    Unknown("PaymentMethod", static_cast<int>(method));
}

bool FromSql(std::string_view text, PaymentMethod* method) {
    static constexpr PaymentMethod kAll[] = {PaymentMethod::kAlipay, PaymentMethod::kWechat};
    return Parse(text, kAll, method);
}

std::string_view ToSql(PaymentProvider provider) {
    switch (provider) {
        case PaymentProvider::kAlipay:
            return "alipay";
        case PaymentProvider::kWechat:
            return "wechat";
        case PaymentProvider::kMock:
            return "mock";
    }
    Unknown("PaymentProvider", static_cast<int>(provider));
}

bool FromSql(std::string_view text, PaymentProvider* provider) {
    static constexpr PaymentProvider kAll[] = {PaymentProvider::kAlipay, PaymentProvider::kWechat,
                                               PaymentProvider::kMock};
    return Parse(text, kAll, provider);
}

PaymentProvider ProviderOf(PaymentMethod method) {
    switch (method) {
        case PaymentMethod::kAlipay:
            return PaymentProvider::kAlipay;
        case PaymentMethod::kWechat:
            return PaymentProvider::kWechat;
    }
    Unknown("PaymentMethod", static_cast<int>(method));
}

}  // namespace inkstone::lib::billing
