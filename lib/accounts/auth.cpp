#include "lib/accounts/auth.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sodium.h>
#include <unistd.h>

#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <stdexcept>

#include "lib/base/assert.h"
#include "lib/base/errors.h"
#include "lib/base/utf8.h"

namespace inkstone::lib::accounts {
namespace {

void EnsureSodium() {
    static const int status = sodium_init();  // 0 first time, 1 when already done, -1 on failure
    if (status < 0) throw std::runtime_error("sodium_init failed");
}

// libsodium's string API wants NUL-terminated hashes of bounded length.
std::optional<std::string> AsHashString(std::string_view stored_hash) {
    if (stored_hash.empty() || stored_hash.size() >= crypto_pwhash_STRBYTES ||
        stored_hash.find('\0') != std::string_view::npos) {
        return std::nullopt;
    }
    return std::string(stored_hash);
}

// A hash of a random password nobody knows, made with the current parameters, so a dummy
// verify costs exactly what a real one does.
const std::string& DummyHash() {
    static const std::string hash = [] {
        unsigned char secret[32];
        randombytes_buf(secret, sizeof secret);
        std::string password(reinterpret_cast<const char*>(secret), sizeof secret);
        sodium_memzero(secret, sizeof secret);
        return HashPassword(password);
    }();
    return hash;
}

bool IsTokenChar(char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
}

bool DecodeToken(std::string_view token, unsigned char (&bytes)[kTokenBytes]) {
    if (token.size() != kTokenLength) return false;
    for (char c : token) {
        if (!IsTokenChar(c)) return false;
    }
    EnsureSodium();
    size_t decoded = 0;
    const char* end = nullptr;
    // sodium_base642bin also rejects non-zero padding bits, so each token has one spelling.
    if (sodium_base642bin(bytes, sizeof bytes, token.data(), token.size(), nullptr, &decoded, &end,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0) {
        return false;
    }
    return decoded == kTokenBytes && end == token.data() + token.size();
}

// Next code point of valid UTF-8 starting at `i`; advances `i`.
char32_t NextCodePoint(std::string_view text, size_t& i) {
    const auto lead = static_cast<unsigned char>(text[i]);
    size_t length = 1;
    char32_t cp = lead;
    if (lead >= 0xF0) {
        length = 4;
        cp = lead & 0x07;
    } else if (lead >= 0xE0) {
        length = 3;
        cp = lead & 0x0F;
    } else if (lead >= 0xC0) {
        length = 2;
        cp = lead & 0x1F;
    }
    for (size_t k = 1; k < length && i + k < text.size(); ++k) {
        cp = (cp << 6) | (static_cast<unsigned char>(text[i + k]) & 0x3F);
    }
    i += length;
    return cp;
}

bool IsSpaceOrControl(char32_t cp) {
    if (cp <= 0x20 || (cp >= 0x7F && cp <= 0xA0)) return true;  // C0, space, DEL, C1, NBSP
    if (cp >= 0x2000 && cp <= 0x200B) return true;              // en quad .. zero width space
    switch (cp) {
        case 0x1680:
        case 0x2028:
        case 0x2029:
        case 0x202F:
        case 0x205F:
        case 0x3000:
        case 0xFEFF:
            return true;
        default:
            return false;
    }
}

/// At most as many argon2id computations at once as there are cores, per process: each holds
/// kPasswordMemLimit (32 MiB) and a core for ~40 ms, so a login flood on 32 request threads
/// would otherwise cost a worker 1 GiB and starve every other request of CPU. Waiting here is
/// cheaper than computing in parallel on cores that do not exist, but only for a bounded time:
/// a flood would otherwise park every request thread here and stall unrelated requests.
class HashingSlots {
  public:
    HashingSlots() {
        const long cores = sysconf(_SC_NPROCESSORS_ONLN);
        free_ = cores > 0 ? static_cast<int>(cores) : 1;
    }
    bool Acquire(std::chrono::milliseconds max_wait) {
        std::unique_lock<std::mutex> lock(mu_);
        if (!cv_.wait_for(lock, max_wait, [this] { return free_ > 0; })) return false;
        --free_;
        return true;
    }
    void Release() {
        {
            std::lock_guard<std::mutex> lock(mu_);
            ++free_;
        }
        cv_.notify_one();
    }

  private:
    std::mutex mu_;
    std::condition_variable cv_;
    int free_;
};

class HashingSlot {
  public:
    explicit HashingSlot(std::chrono::milliseconds max_wait) {
        if (!Slots().Acquire(max_wait)) {
            base::ApiError busy(base::ErrorCode::kUnavailable,
                                "too many sign-ins at once; try again in a moment");
            busy.retry_after_s = 1;
            throw busy;
        }
    }
    ~HashingSlot() { Slots().Release(); }
    HashingSlot(const HashingSlot&) = delete;
    HashingSlot& operator=(const HashingSlot&) = delete;

  private:
    static HashingSlots& Slots() {
        static HashingSlots slots;
        return slots;
    }
};

}  // namespace

std::string HashPassword(std::string_view password, std::chrono::milliseconds max_wait) {
    EnsureSodium();
    HashingSlot slot(max_wait);
    char out[crypto_pwhash_STRBYTES];
    if (crypto_pwhash_str_alg(out, password.data(), password.size(), kPasswordOpsLimit,
                              kPasswordMemLimit, crypto_pwhash_ALG_ARGON2ID13) != 0) {
        throw std::runtime_error("argon2id hashing failed (out of memory)");
    }
    return std::string(out);
}

bool VerifyPassword(std::string_view stored_hash, std::string_view password,
                    std::chrono::milliseconds max_wait) {
    EnsureSodium();
    const std::optional<std::string> hash = AsHashString(stored_hash);
    if (!hash) return false;
    HashingSlot slot(max_wait);
    return crypto_pwhash_str_verify(hash->c_str(), password.data(), password.size()) == 0;
}

bool DummyVerifyPassword(std::string_view password, std::chrono::milliseconds max_wait) {
    EnsureSodium();
    const std::string& hash = DummyHash();
    HashingSlot slot(max_wait);
    // The result does not matter: nobody knows the dummy password, and the answer is "no".
    const int status = crypto_pwhash_str_verify(hash.c_str(), password.data(), password.size());
    static_cast<void>(status);
    return false;
}

bool PasswordNeedsRehash(std::string_view stored_hash) {
    EnsureSodium();
    const std::optional<std::string> hash = AsHashString(stored_hash);
    if (!hash) return true;
    // The argon2id-specific check also reports an argon2i hash (-1) as needing a rehash.
    return crypto_pwhash_argon2id_str_needs_rehash(hash->c_str(), kPasswordOpsLimit,
                                                   kPasswordMemLimit) != 0;
}

std::string GenerateToken() {
    EnsureSodium();
    unsigned char bytes[kTokenBytes];
    randombytes_buf(bytes, sizeof bytes);
    char encoded[sodium_base64_ENCODED_LEN(kTokenBytes, sodium_base64_VARIANT_URLSAFE_NO_PADDING)];
    sodium_bin2base64(encoded, sizeof encoded, bytes, sizeof bytes,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(bytes, sizeof bytes);
    return std::string(encoded);
}

bool IsWellFormedToken(std::string_view token) {
    unsigned char bytes[kTokenBytes];
    const bool ok = DecodeToken(token, bytes);
    sodium_memzero(bytes, sizeof bytes);
    return ok;
}

std::optional<std::string> TokenHashHex(std::string_view token) {
    unsigned char bytes[kTokenBytes];
    if (!DecodeToken(token, bytes)) {
        sodium_memzero(bytes, sizeof bytes);
        return std::nullopt;
    }
    unsigned char digest[crypto_hash_sha256_BYTES];
    const int status = crypto_hash_sha256(digest, bytes, sizeof bytes);
    sodium_memzero(bytes, sizeof bytes);
    // libsodium's SHA-256 has no failure mode; a non-zero status is a broken library.
    INKSTONE_ASSERT(status == 0, "crypto_hash_sha256 returned " + std::to_string(status));
    char hex[crypto_hash_sha256_BYTES * 2 + 1];
    sodium_bin2hex(hex, sizeof hex, digest, sizeof digest);
    return std::string(hex);
}

std::optional<std::string> UsernameError(std::string_view username) {
    const size_t chars = base::IsValidUtf8(username) ? base::Utf8Length(username) : username.size();
    if (chars < kUsernameMinChars || chars > kUsernameMaxChars) {
        return "username must be 3 to 32 characters long";
    }
    for (char c : username) {
        const bool ok =
            (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
        if (!ok) return "username may contain only letters A-Z and a-z, digits and '_'";
    }
    return std::nullopt;
}

std::optional<std::string> PasswordError(std::string_view password) {
    if (!base::IsValidUtf8(password)) return "password must be valid UTF-8";
    if (password.find('\0') != std::string_view::npos) return "password must not contain NUL";
    const size_t chars = base::Utf8Length(password);
    if (chars < kPasswordMinChars || chars > kPasswordMaxChars) {
        return "password must be 8 to 128 characters long";
    }
    return std::nullopt;
}

std::optional<std::string> EmailError(std::string_view email) {
    if (!base::IsValidUtf8(email)) return "email must be valid UTF-8";
    if (base::Utf8Length(email) > kEmailMaxChars)
        return "email must be at most 254 characters long";
    for (size_t i = 0; i < email.size();) {
        if (IsSpaceOrControl(NextCodePoint(email, i))) {
            return "email must not contain spaces or control characters";
        }
    }
    const size_t at = email.find('@');
    if (at == std::string_view::npos || email.find('@', at + 1) != std::string_view::npos ||
        at == 0 || at + 1 == email.size()) {
        return "email must look like name@example.com";
    }
    return std::nullopt;
}

std::string NormalizeUsername(std::string_view username) {
    std::string key(username);
    for (char& c : key) {
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
    return key;
}

std::string ThrottleClientKey(std::string_view remote_addr) {
    constexpr size_t kMaxKeyLength = 64;
    const std::string addr(remote_addr.substr(0, kMaxKeyLength));
    char text[INET6_ADDRSTRLEN];

    in_addr v4{};
    if (addr.size() == remote_addr.size() && inet_pton(AF_INET, addr.c_str(), &v4) == 1) {
        if (inet_ntop(AF_INET, &v4, text, sizeof text) != nullptr) return text;
    }
    in6_addr v6{};
    if (addr.size() == remote_addr.size() && inet_pton(AF_INET6, addr.c_str(), &v6) == 1) {
        if (IN6_IS_ADDR_V4MAPPED(&v6)) {
            std::memcpy(&v4, &v6.s6_addr[12], sizeof v4);
            if (inet_ntop(AF_INET, &v4, text, sizeof text) != nullptr) return text;
        }
        std::memset(&v6.s6_addr[8], 0, 8);
        if (inet_ntop(AF_INET6, &v6, text, sizeof text) != nullptr) {
            return std::string(text) + "/64";
        }
    }
    // Not an address nginx would send; keep it printable ASCII so it fits the column.
    std::string key = addr;
    for (char& c : key) {
        if (c < 0x21 || c > 0x7E) c = '?';
    }
    return key;
}

}  // namespace inkstone::lib::accounts
