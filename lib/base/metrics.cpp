#include "lib/base/metrics.h"

#include <sys/mman.h>

#include <algorithm>
#include <atomic>
#include <cassert>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <vector>

namespace inkstone::lib::base::metrics {
namespace {

enum class Type { kCounter, kGauge, kHistogram };

struct Family {
    const char* name;
    Type type;
    const char* help;
    std::vector<double> buckets;  ///< histograms only, ascending
};

const std::vector<double> kLatency = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
const std::vector<double> kUpstream = {0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120};
const std::vector<double> kJobs = {0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60};

// The catalog: every series inkstone exports. ops/grafana and ops/prometheus name only these
// (tests/unit/metrics_test.cpp checks it).
const Family kFamilies[] = {
    {"inkstone_http_requests_total",
     Type::kCounter,
     "HTTP requests answered, by route pattern, method and status class.",
     {}},
    {"inkstone_http_request_duration_seconds", Type::kHistogram,
     "Time from dispatch to the response (to the end of a stream), by route pattern.", kLatency},
    {"inkstone_pool_threads",
     Type::kGauge,
     "Request threads of the pool's current workers, busy or idle.",
     {}},
    {"inkstone_pool_workers", Type::kGauge, "Worker processes of the pool, by state.", {}},
    {"inkstone_pool_requests_accepted_total",
     Type::kCounter,
     "Requests accepted by the pool's workers since the master started.",
     {}},
    {"inkstone_pool_slow_requests_total",
     Type::kCounter,
     "Requests slower than fcgi.slow_request_ms.",
     {}},
    {"inkstone_pool_worker_restarts_total",
     Type::kCounter,
     "Workers that died unexpectedly and were replaced.",
     {}},
    {"inkstone_pool_worker_recycles_total",
     Type::kCounter,
     "Workers retired after fcgi.max_requests.",
     {}},
    {"inkstone_pool_reloads_total", Type::kCounter, "SIGHUP reloads.", {}},
    {"inkstone_db_pool_waits_total",
     Type::kCounter,
     "Connection requests that had to wait for a free pooled connection.",
     {}},
    {"inkstone_db_pool_timeouts_total",
     Type::kCounter,
     "Connection requests that gave up waiting (db.acquire_timeout_ms).",
     {}},
    {"inkstone_db_transaction_retries_total",
     Type::kCounter,
     "Transactions run again after a deadlock (1213), lock wait timeout (1205) or a lost "
     "connection, by MySQL error code.",
     {}},
    {"inkstone_db_transaction_retries_exhausted_total",
     Type::kCounter,
     "Transactions that still failed after every retry.",
     {}},
    {"inkstone_upstream_requests_total",
     Type::kCounter,
     "Calls to the model provider (DashScope), by model and outcome.",
     {}},
    {"inkstone_upstream_duration_seconds", Type::kHistogram,
     "Duration of a model provider call, by model.", kUpstream},
    {"inkstone_upstream_first_token_seconds", Type::kHistogram,
     "Time to the first streamed token of a model provider call, by model.", kUpstream},
    {"inkstone_generations_total",
     Type::kCounter,
     "Generations ended, by status (SUCCEEDED, FAILED, CANCELLED, ...).",
     {}},
    {"inkstone_credits_charged_total", Type::kCounter, "Credits charged for generations.", {}},
    {"inkstone_credits_refunded_total",
     Type::kCounter,
     "Credits given back for failed or stopped generations.",
     {}},
    {"inkstone_credits_issued_total",
     Type::kCounter,
     "Credits added to balances, by source (recharge, bonus, admin, redeem, "
     "order_refund_void).",
     {}},
    {"inkstone_credits_revoked_total",
     Type::kCounter,
     "Credits taken from balances other than by a charge, by source (admin, order_refund).",
     {}},
    {"inkstone_orders_created_total",
     Type::kCounter,
     "Orders created, by kind (recharge, membership) and payment method.",
     {}},
    {"inkstone_orders_paid_total", Type::kCounter, "Orders settled, by kind and provider.", {}},
    {"inkstone_orders_expired_total", Type::kCounter, "Unpaid orders expired, by kind.", {}},
    {"inkstone_orders_refunded_total",
     Type::kCounter,
     "Order refunds, by kind, provider and status (opened, succeeded, failed).",
     {}},
    {"inkstone_revenue_fen_total", Type::kCounter, "Money received, in fen, by provider.", {}},
    {"inkstone_refunded_fen_total",
     Type::kCounter,
     "Money refunded (refunds that succeeded), in fen, by provider.",
     {}},
    {"inkstone_payment_notifies_total",
     Type::kCounter,
     "Payment and refund notifies received, by provider, kind, outcome and (for the rejected "
     "and unauthentic ones) reason.",
     {}},
    {"inkstone_job_runs_total",
     Type::kCounter,
     "Background job runs, by job and outcome (ok, failed).",
     {}},
    {"inkstone_job_duration_seconds", Type::kHistogram, "Duration of a background job run.", kJobs},
    {"inkstone_metrics_series_dropped_total",
     Type::kCounter,
     "Samples not counted because the shared metrics table was full.",
     {}},
};
constexpr int kFamilyCount = sizeof kFamilies / sizeof kFamilies[0];

constexpr size_t kLabelBytes = 224;
constexpr uint8_t kPartValue = 0;    // a counter or gauge
constexpr uint8_t kPartSum = 254;    // a histogram's _sum
constexpr uint8_t kPartCount = 255;  // a histogram's _count; buckets are 1..N

struct Entry {
    std::atomic<uint64_t> hash{0};   ///< 0: free
    std::atomic<uint32_t> ready{0};  ///< 1 once family, part and labels are written
    uint16_t family = 0;
    uint8_t part = 0;
    uint8_t labels_len = 0;
    char labels[kLabelBytes] = {};
    std::atomic<uint64_t> bits{0};  ///< the value, a double's bits
};

struct Table {
    std::atomic<uint64_t> dropped{0};
    int capacity = 0;
    Entry entries[1];  // `capacity` of them
};

Table* table = nullptr;

int FindFamily(std::string_view name) {
    for (int i = 0; i < kFamilyCount; ++i) {
        if (name == kFamilies[i].name) return i;
    }
    return -1;
}

void AppendEscaped(std::string& out, std::string_view value) {
    for (char c : value) {
        if (c == '\\') {
            out += "\\\\";
        } else if (c == '"') {
            out += "\\\"";
        } else if (c == '\n') {
            out += "\\n";
        } else {
            out += c;
        }
    }
}

/// `a="x",b="y"` in the order given (callers name labels in one fixed order per family).
std::string LabelText(Labels labels) {
    std::string out;
    for (const auto& [name, value] : labels) {
        if (!out.empty()) out += ',';
        out.append(name.data(), name.size());
        out += "=\"";
        AppendEscaped(out, value);
        out += '"';
    }
    return out;
}

uint64_t HashOf(int family, uint8_t part, std::string_view labels) {
    uint64_t h = 1469598103934665603ULL;
    const auto mix = [&](unsigned char c) {
        h ^= c;
        h *= 1099511628211ULL;
    };
    mix(static_cast<unsigned char>(family & 0xFF));
    mix(static_cast<unsigned char>(family >> 8));
    mix(part);
    for (char c : labels) mix(static_cast<unsigned char>(c));
    return h == 0 ? 1 : h;
}

/// The entry of (family, part, labels), claimed on first use; nullptr when the table is full
/// or the labels do not fit.
Entry* EntryFor(int family, uint8_t part, const std::string& labels) {
    if (labels.size() >= kLabelBytes) {
        table->dropped.fetch_add(1, std::memory_order_relaxed);
        return nullptr;
    }
    const uint64_t hash = HashOf(family, part, labels);
    const int capacity = table->capacity;
    for (int probe = 0; probe < capacity; ++probe) {
        Entry& e = table->entries[(hash + static_cast<uint64_t>(probe)) % capacity];
        uint64_t seen = e.hash.load(std::memory_order_acquire);
        if (seen == 0) {
            uint64_t expected = 0;
            if (e.hash.compare_exchange_strong(expected, hash, std::memory_order_acq_rel)) {
                e.family = static_cast<uint16_t>(family);
                e.part = part;
                e.labels_len = static_cast<uint8_t>(labels.size());
                std::memcpy(e.labels, labels.data(), labels.size());
                e.ready.store(1, std::memory_order_release);
                return &e;
            }
            seen = expected;
        }
        if (seen != hash) continue;
        // Claimed by someone with the same hash: wait for its key (a few stores away).
        while (e.ready.load(std::memory_order_acquire) == 0) {
        }
        if (e.family == family && e.part == part && e.labels_len == labels.size() &&
            std::memcmp(e.labels, labels.data(), labels.size()) == 0) {
            return &e;
        }
    }
    table->dropped.fetch_add(1, std::memory_order_relaxed);
    return nullptr;
}

double Load(const Entry& e) {
    const uint64_t bits = e.bits.load(std::memory_order_relaxed);
    double value;
    std::memcpy(&value, &bits, sizeof value);
    return value;
}

void Add(Entry* e, double delta) {
    if (e == nullptr) return;
    uint64_t old_bits = e->bits.load(std::memory_order_relaxed);
    for (;;) {
        double value;
        std::memcpy(&value, &old_bits, sizeof value);
        value += delta;
        uint64_t new_bits;
        std::memcpy(&new_bits, &value, sizeof new_bits);
        if (e->bits.compare_exchange_weak(old_bits, new_bits, std::memory_order_relaxed)) return;
    }
}

void Store(Entry* e, double value) {
    if (e == nullptr) return;
    uint64_t bits;
    std::memcpy(&bits, &value, sizeof bits);
    e->bits.store(bits, std::memory_order_relaxed);
}

int Resolve(std::string_view family, Type type) {
    const int index = FindFamily(family);
    assert(index >= 0 && kFamilies[index].type == type);
    if (index < 0 || kFamilies[index].type != type) return -1;
    return index;
}

void AppendNumber(std::string& out, double value) {
    char buf[40];
    if (std::isinf(value)) {
        out += value > 0 ? "+Inf" : "-Inf";
        return;
    }
    if (value == std::floor(value) && std::fabs(value) < 9.007199254740992e15) {
        std::snprintf(buf, sizeof buf, "%.0f", value);
    } else {
        std::snprintf(buf, sizeof buf, "%.15g", value);
    }
    out += buf;
}

}  // namespace

void Install(int capacity) {
    if (table != nullptr) return;
    const size_t bytes = sizeof(Table) + sizeof(Entry) * static_cast<size_t>(capacity);
    void* mapped = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (mapped == MAP_FAILED) {
        std::fprintf(stderr, "inkstone: cannot map the metrics table (%zu bytes)\n", bytes);
        std::abort();
    }
    // Zeroed by the kernel: every entry free, every value 0.
    table = static_cast<Table*>(mapped);
    table->capacity = capacity;
}

bool Installed() { return table != nullptr; }

void Count(std::string_view family, Labels labels, double delta) {
    if (table == nullptr || delta == 0) return;
    const int index = Resolve(family, Type::kCounter);
    if (index < 0) return;
    Add(EntryFor(index, kPartValue, LabelText(labels)), delta);
}

void Set(std::string_view family, Labels labels, double value) {
    if (table == nullptr) return;
    const int index = Resolve(family, Type::kGauge);
    if (index < 0) return;
    Store(EntryFor(index, kPartValue, LabelText(labels)), value);
}

void Observe(std::string_view family, Labels labels, double value) {
    if (table == nullptr) return;
    const int index = Resolve(family, Type::kHistogram);
    if (index < 0) return;
    const std::string text = LabelText(labels);
    const std::vector<double>& buckets = kFamilies[index].buckets;
    // Only the first bucket the value fits is counted here; Render makes them cumulative.
    const auto fits = std::lower_bound(buckets.begin(), buckets.end(), value);
    if (fits != buckets.end()) {
        Add(EntryFor(index, static_cast<uint8_t>(1 + (fits - buckets.begin())), text), 1);
    }
    Add(EntryFor(index, kPartSum, text), value);
    Add(EntryFor(index, kPartCount, text), 1);
}

void AppendSample(std::string& out, std::string_view name, std::string_view labels, double value) {
    out.append(name.data(), name.size());
    if (!labels.empty()) {
        out += '{';
        out.append(labels.data(), labels.size());
        out += '}';
    }
    out += ' ';
    AppendNumber(out, value);
    out += '\n';
}

std::string Render(const ScrapeHook& scrape) {
    // (family, labels) → part → value, from the ready entries.
    std::vector<std::map<std::string, std::map<int, double>>> series(kFamilyCount);
    if (table != nullptr) {
        for (int i = 0; i < table->capacity; ++i) {
            const Entry& e = table->entries[i];
            if (e.ready.load(std::memory_order_acquire) == 0) continue;
            series[e.family][std::string(e.labels, e.labels_len)][e.part] = Load(e);
        }
        const uint64_t dropped = table->dropped.load(std::memory_order_relaxed);
        if (dropped > 0) {
            series[FindFamily("inkstone_metrics_series_dropped_total")][""][kPartValue] +=
                static_cast<double>(dropped);
        }
    }
    std::string out;
    for (int f = 0; f < kFamilyCount; ++f) {
        const Family& family = kFamilies[f];
        out += "# HELP ";
        out += family.name;
        out += ' ';
        out += family.help;
        out += "\n# TYPE ";
        out += family.name;
        out += family.type == Type::kCounter ? " counter\n"
               : family.type == Type::kGauge ? " gauge\n"
                                             : " histogram\n";
        if (scrape) scrape(family.name, out);
        for (const auto& [labels, parts] : series[f]) {
            if (family.type != Type::kHistogram) {
                AppendSample(out, family.name, labels,
                             parts.count(kPartValue) ? parts.at(kPartValue) : 0);
                continue;
            }
            const std::string bucket = std::string(family.name) + "_bucket";
            double cumulative = 0;
            for (size_t b = 0; b < family.buckets.size(); ++b) {
                const auto it = parts.find(static_cast<int>(b + 1));
                if (it != parts.end()) cumulative += it->second;
                std::string le = labels.empty() ? "" : labels + ",";
                le += "le=\"";
                AppendNumber(le, family.buckets[b]);
                le += '"';
                AppendSample(out, bucket, le, cumulative);
            }
            const double count = parts.count(kPartCount) ? parts.at(kPartCount) : 0;
            AppendSample(out, bucket, (labels.empty() ? "" : labels + ",") + "le=\"+Inf\"", count);
            AppendSample(out, std::string(family.name) + "_sum", labels,
                         parts.count(kPartSum) ? parts.at(kPartSum) : 0);
            AppendSample(out, std::string(family.name) + "_count", labels, count);
        }
    }
    return out;
}

std::string FamilyNames() {
    std::string out;
    for (const Family& family : kFamilies) {
        out += family.name;
        out += '\n';
    }
    return out;
}

std::string_view StatusClass(int status) {
    if (status >= 500) return "5xx";
    if (status >= 400) return "4xx";
    if (status >= 300) return "3xx";
    if (status >= 200) return "2xx";
    return "1xx";
}

}  // namespace inkstone::lib::base::metrics
