#include "lib/payments/crypto.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/decoder.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <sodium.h>

#include <cerrno>
#include <climits>
#include <cstring>
#include <fstream>
#include <iterator>
#include <sstream>
#include <vector>

namespace inkstone::lib::payments {
namespace {

constexpr int kMinRsaBits = 2048;
constexpr size_t kMaxKeyFileBytes = 64 * 1024;

template <typename T, void (*Free)(T*)>
struct Deleter {
    void operator()(T* p) const { Free(p); }
};
using BioPtr = std::unique_ptr<BIO, Deleter<BIO, BIO_free_all>>;
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, Deleter<EVP_MD_CTX, EVP_MD_CTX_free>>;
using CipherCtxPtr = std::unique_ptr<EVP_CIPHER_CTX, Deleter<EVP_CIPHER_CTX, EVP_CIPHER_CTX_free>>;
using DecoderCtxPtr =
    std::unique_ptr<OSSL_DECODER_CTX, Deleter<OSSL_DECODER_CTX, OSSL_DECODER_CTX_free>>;
using X509Ptr = std::unique_ptr<X509, Deleter<X509, X509_free>>;
using BignumPtr = std::unique_ptr<BIGNUM, Deleter<BIGNUM, BN_free>>;

std::shared_ptr<EVP_PKEY> Own(EVP_PKEY* key) {
    return std::shared_ptr<EVP_PKEY>(key, EVP_PKEY_free);
}

// OpenSSL's reason strings describe the failure ("bad decrypt", "wrong tag"), never the data,
// so they may go into messages. The queue is per thread and must be emptied, or a later
// unrelated check on this thread would see stale errors.
std::string TakeOpensslReason() {
    const unsigned long code = ERR_peek_error();
    std::string reason;
    if (code != 0) {
        const char* text = ERR_reason_error_string(code);
        reason = text != nullptr ? text : "error " + std::to_string(ERR_GET_REASON(code));
    }
    ERR_clear_error();
    return reason;
}

[[noreturn]] void ThrowCrypto(const std::string& what) {
    const std::string reason = TakeOpensslReason();
    throw CryptoError(reason.empty() ? what : what + " (" + reason + ")");
}

const unsigned char* Bytes(std::string_view s) {
    return reinterpret_cast<const unsigned char*>(s.data());
}

int IntLength(std::string_view s, const char* what) {
    if (s.size() > static_cast<size_t>(INT_MAX)) throw CryptoError(std::string(what) + " too long");
    return static_cast<int>(s.size());
}

std::string ReadKeyFile(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        throw CryptoError("cannot open key file '" + path + "': " + std::strerror(errno));
    }
    std::string content;
    char buffer[4096];
    while (in.read(buffer, sizeof buffer) || in.gcount() > 0) {
        content.append(buffer, static_cast<size_t>(in.gcount()));
        if (content.size() > kMaxKeyFileBytes) {
            throw CryptoError("key file '" + path + "' is larger than 64 KiB");
        }
    }
    if (in.bad()) throw CryptoError("cannot read key file '" + path + "'");
    return content;
}

/// One PEM block: its label (`PUBLIC KEY`) and DER content.
struct PemBlock {
    std::string label;
    std::string der;
    bool has_headers = false;  // `Proc-Type: 4,ENCRYPTED` and friends
};

std::optional<PemBlock> ReadPem(std::string_view text) {
    BioPtr bio(BIO_new_mem_buf(text.data(), IntLength(text, "key text")));
    if (!bio) ThrowCrypto("cannot allocate a memory BIO");
    char* name = nullptr;
    char* header = nullptr;
    unsigned char* data = nullptr;
    long length = 0;
    if (PEM_read_bio(bio.get(), &name, &header, &data, &length) != 1) {
        ERR_clear_error();
        return std::nullopt;
    }
    PemBlock block;
    block.label = name;
    block.has_headers = header != nullptr && header[0] != '\0';
    block.der.assign(reinterpret_cast<const char*>(data), static_cast<size_t>(length));
    OPENSSL_free(name);
    OPENSSL_free(header);
    OPENSSL_clear_free(data, static_cast<size_t>(length));
    return block;
}

/// Bare base64 (Alipay's format): whitespace anywhere is line wrapping, anything else must be
/// strict base64.
std::optional<std::string> DecodeBareBase64(std::string_view text) {
    std::string compact;
    compact.reserve(text.size());
    for (const char c : text) {
        if (c != ' ' && c != '\t' && c != '\r' && c != '\n') compact.push_back(c);
    }
    if (compact.empty()) return std::nullopt;
    return Base64Decode(compact);
}

/// DER of `structure` ("PrivateKeyInfo", "SubjectPublicKeyInfo", "type-specific" = PKCS#1)
/// into an RSA key. nullptr when it is not one.
std::shared_ptr<EVP_PKEY> DecodeRsaDer(std::string_view der, const char* structure, int selection) {
    EVP_PKEY* raw = nullptr;
    DecoderCtxPtr ctx(
        OSSL_DECODER_CTX_new_for_pkey(&raw, "DER", structure, "RSA", selection, nullptr, nullptr));
    if (!ctx) ThrowCrypto("cannot create a key decoder");
    const unsigned char* data = Bytes(der);
    size_t remaining = der.size();
    const int ok = OSSL_DECODER_from_data(ctx.get(), &data, &remaining);
    std::shared_ptr<EVP_PKEY> key = raw != nullptr ? Own(raw) : nullptr;
    if (ok != 1 || !key || remaining != 0) {
        ERR_clear_error();
        return nullptr;
    }
    return key;
}

bool HasPrivatePart(EVP_PKEY* key) {
    BIGNUM* raw = nullptr;
    const bool has = EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_D, &raw) == 1 && raw != nullptr;
    BignumPtr d(raw);
    ERR_clear_error();
    return has;
}

void CheckRsaStrength(EVP_PKEY* key, const char* what) {
    if (EVP_PKEY_is_a(key, "RSA") != 1) throw CryptoError(std::string(what) + " is not an RSA key");
    const int bits = EVP_PKEY_get_bits(key);
    if (bits < kMinRsaBits) {
        throw CryptoError(std::string(what) + " has " + std::to_string(bits) +
                          " bits; at least 2048 are required");
    }
}

std::shared_ptr<EVP_PKEY> PublicFromCertificate(std::string_view der) {
    const unsigned char* data = Bytes(der);
    X509Ptr cert(d2i_X509(nullptr, &data, static_cast<long>(der.size())));
    if (!cert) {
        ERR_clear_error();
        return nullptr;
    }
    EVP_PKEY* key = X509_get_pubkey(cert.get());  // a new reference
    if (key == nullptr) ERR_clear_error();
    return key != nullptr ? Own(key) : nullptr;
}

std::string WritePem(EVP_PKEY* key, bool private_part) {
    BioPtr bio(BIO_new(BIO_s_mem()));
    if (!bio) ThrowCrypto("cannot allocate a memory BIO");
    const int ok = private_part ? PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0,
                                                           nullptr, nullptr)
                                : PEM_write_bio_PUBKEY(bio.get(), key);
    if (ok != 1) ThrowCrypto("cannot write the key as PEM");
    char* data = nullptr;
    const long length = BIO_get_mem_data(bio.get(), &data);
    if (length <= 0 || data == nullptr) ThrowCrypto("cannot write the key as PEM");
    std::string pem(data, static_cast<size_t>(length));
    if (private_part) OPENSSL_cleanse(data, static_cast<size_t>(length));
    return pem;
}

}  // namespace

PublicKey PublicKey::FromText(std::string_view text) {
    std::shared_ptr<EVP_PKEY> key;
    if (text.find("-----BEGIN") != std::string_view::npos) {
        const std::optional<PemBlock> pem = ReadPem(text);
        if (!pem) throw CryptoError("public key: malformed PEM");
        constexpr int kPublic = OSSL_KEYMGMT_SELECT_PUBLIC_KEY;
        if (pem->label == "PUBLIC KEY") {
            key = DecodeRsaDer(pem->der, "SubjectPublicKeyInfo", kPublic);
        } else if (pem->label == "RSA PUBLIC KEY") {
            key = DecodeRsaDer(pem->der, "type-specific", kPublic);
        } else if (pem->label == "CERTIFICATE") {
            key = PublicFromCertificate(pem->der);
        } else {
            throw CryptoError("public key: PEM block '" + pem->label +
                              "' is not PUBLIC KEY, RSA PUBLIC KEY or CERTIFICATE");
        }
        if (!key) throw CryptoError("public key: cannot decode the " + pem->label + " block");
    } else {
        const std::optional<std::string> der = DecodeBareBase64(text);
        if (!der) throw CryptoError("public key: neither PEM nor base64");
        key = DecodeRsaDer(*der, "SubjectPublicKeyInfo", OSSL_KEYMGMT_SELECT_PUBLIC_KEY);
        if (!key) throw CryptoError("public key: base64 text is not an RSA SubjectPublicKeyInfo");
    }
    CheckRsaStrength(key.get(), "public key");
    return PublicKey(std::move(key));
}

PublicKey PublicKey::FromFile(const std::string& path) {
    try {
        return FromText(ReadKeyFile(path));
    } catch (const CryptoError& e) {
        if (std::string_view(e.what()).find(path) != std::string_view::npos) throw;
        throw CryptoError(path + ": " + e.what());
    }
}

bool PublicKey::VerifySha256(std::string_view message, std::string_view signature_base64) const {
    const std::optional<std::string> signature = Base64Decode(signature_base64);
    if (!signature || signature->empty()) return false;
    MdCtxPtr ctx(EVP_MD_CTX_new());
    if (!ctx) ThrowCrypto("cannot allocate a digest context");
    EVP_PKEY_CTX* pkey_ctx = nullptr;  // owned by ctx
    if (EVP_DigestVerifyInit(ctx.get(), &pkey_ctx, EVP_sha256(), nullptr, key_.get()) != 1 ||
        EVP_PKEY_CTX_set_rsa_padding(pkey_ctx, RSA_PKCS1_PADDING) <= 0) {
        ThrowCrypto("cannot initialise SHA256withRSA verification");
    }
    const int result = EVP_DigestVerify(ctx.get(), Bytes(*signature), signature->size(),
                                        Bytes(message), message.size());
    // 0 is a mismatch, a negative value a malformed signature (wrong length): both are "no".
    ERR_clear_error();
    return result == 1;
}

std::string PublicKey::ToPem() const { return WritePem(key_.get(), false); }

PrivateKey PrivateKey::FromText(std::string_view text) {
    constexpr int kKeyPair = OSSL_KEYMGMT_SELECT_KEYPAIR;
    std::shared_ptr<EVP_PKEY> key;
    if (text.find("-----BEGIN") != std::string_view::npos) {
        std::optional<PemBlock> pem = ReadPem(text);
        if (!pem) throw CryptoError("private key: malformed PEM");
        if (pem->label == "ENCRYPTED PRIVATE KEY" || pem->has_headers) {
            OPENSSL_cleanse(pem->der.data(), pem->der.size());
            throw CryptoError(
                "private key: encrypted keys are not supported; store it unencrypted "
                "with mode 0600");
        }
        if (pem->label != "PRIVATE KEY" && pem->label != "RSA PRIVATE KEY") {
            OPENSSL_cleanse(pem->der.data(), pem->der.size());
            throw CryptoError("private key: PEM block '" + pem->label +
                              "' is not PRIVATE KEY or RSA PRIVATE KEY");
        }
        key = DecodeRsaDer(
            pem->der, pem->label == "PRIVATE KEY" ? "PrivateKeyInfo" : "type-specific", kKeyPair);
        OPENSSL_cleanse(pem->der.data(), pem->der.size());
        if (!key) throw CryptoError("private key: cannot decode the " + pem->label + " block");
    } else {
        std::optional<std::string> der = DecodeBareBase64(text);
        if (!der) throw CryptoError("private key: neither PEM nor base64");
        key = DecodeRsaDer(*der, "PrivateKeyInfo", kKeyPair);
        if (!key) key = DecodeRsaDer(*der, "type-specific", kKeyPair);
        OPENSSL_cleanse(der->data(), der->size());
        if (!key) throw CryptoError("private key: base64 text is not an RSA PKCS#8 or PKCS#1 key");
    }
    if (!HasPrivatePart(key.get())) throw CryptoError("private key: the key has no private part");
    CheckRsaStrength(key.get(), "private key");
    return PrivateKey(std::move(key));
}

PrivateKey PrivateKey::FromFile(const std::string& path) {
    try {
        std::string text = ReadKeyFile(path);
        PrivateKey key = FromText(text);
        OPENSSL_cleanse(text.data(), text.size());
        return key;
    } catch (const CryptoError& e) {
        if (std::string_view(e.what()).find(path) != std::string_view::npos) throw;
        throw CryptoError(path + ": " + e.what());
    }
}

PrivateKey PrivateKey::GenerateRsa(int bits) {
    if (bits < kMinRsaBits) throw std::invalid_argument("RSA keys need at least 2048 bits");
    EVP_PKEY* raw = EVP_RSA_gen(static_cast<unsigned int>(bits));
    if (raw == nullptr) ThrowCrypto("cannot generate an RSA key");
    return PrivateKey(Own(raw));
}

std::string PrivateKey::SignSha256(std::string_view message) const {
    MdCtxPtr ctx(EVP_MD_CTX_new());
    if (!ctx) ThrowCrypto("cannot allocate a digest context");
    EVP_PKEY_CTX* pkey_ctx = nullptr;  // owned by ctx
    if (EVP_DigestSignInit(ctx.get(), &pkey_ctx, EVP_sha256(), nullptr, key_.get()) != 1 ||
        EVP_PKEY_CTX_set_rsa_padding(pkey_ctx, RSA_PKCS1_PADDING) <= 0) {
        ThrowCrypto("cannot initialise SHA256withRSA signing");
    }
    size_t length = 0;
    if (EVP_DigestSign(ctx.get(), nullptr, &length, Bytes(message), message.size()) != 1) {
        ThrowCrypto("cannot size the signature");
    }
    std::string signature(length, '\0');
    if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(signature.data()), &length,
                       Bytes(message), message.size()) != 1) {
        ThrowCrypto("cannot sign");
    }
    signature.resize(length);
    return Base64Encode(signature);
}

PublicKey PrivateKey::Public() const {
    // Round trip through the SPKI DER so the PublicKey holds no private material at all.
    unsigned char* der = nullptr;
    const int length = i2d_PUBKEY(key_.get(), &der);
    if (length <= 0 || der == nullptr) ThrowCrypto("cannot extract the public key");
    std::shared_ptr<EVP_PKEY> key = DecodeRsaDer(
        std::string_view(reinterpret_cast<const char*>(der), static_cast<size_t>(length)),
        "SubjectPublicKeyInfo", OSSL_KEYMGMT_SELECT_PUBLIC_KEY);
    OPENSSL_free(der);
    if (!key) throw CryptoError("cannot decode the extracted public key");
    return PublicKey(std::move(key));
}

std::string PrivateKey::ToPem() const { return WritePem(key_.get(), true); }

std::string Base64Encode(std::string_view bytes) {
    const size_t capacity = sodium_base64_ENCODED_LEN(bytes.size(), sodium_base64_VARIANT_ORIGINAL);
    std::string out(capacity, '\0');
    sodium_bin2base64(out.data(), capacity, Bytes(bytes), bytes.size(),
                      sodium_base64_VARIANT_ORIGINAL);
    out.resize(capacity - 1);  // the encoder's NUL terminator
    return out;
}

std::optional<std::string> Base64Decode(std::string_view text) {
    if (text.size() % 4 != 0) return std::nullopt;
    std::string out(text.size() / 4 * 3, '\0');
    size_t length = 0;
    // No ignore set and no end pointer: any byte outside the alphabet (or a missing pad, or
    // non-zero bits in the last group) makes the whole decode fail.
    if (sodium_base642bin(reinterpret_cast<unsigned char*>(out.data()), out.size(), text.data(),
                          text.size(), nullptr, &length, nullptr,
                          sodium_base64_VARIANT_ORIGINAL) != 0) {
        return std::nullopt;
    }
    out.resize(length);
    return out;
}

std::string Sha256Hex(std::string_view bytes) {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    if (EVP_Digest(bytes.data(), bytes.size(), digest, &length, EVP_sha256(), nullptr) != 1) {
        ThrowCrypto("cannot compute SHA-256");
    }
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out;
    out.reserve(length * 2);
    for (unsigned int i = 0; i < length; ++i) {
        out.push_back(kHex[digest[i] >> 4]);
        out.push_back(kHex[digest[i] & 0xF]);
    }
    return out;
}

std::string RandomHex(size_t bytes) {
    if (bytes == 0 || bytes > 1024) throw std::invalid_argument("RandomHex: 1..1024 bytes");
    std::vector<unsigned char> random(bytes);
    if (RAND_bytes(random.data(), static_cast<int>(bytes)) != 1) {
        ThrowCrypto("the random generator failed");
    }
    static constexpr char kHex[] = "0123456789ABCDEF";
    std::string out;
    out.reserve(bytes * 2);
    for (const unsigned char b : random) {
        out.push_back(kHex[b >> 4]);
        out.push_back(kHex[b & 0xF]);
    }
    return out;
}

std::optional<std::string> Aes256GcmDecrypt(std::string_view key, std::string_view nonce,
                                            std::string_view aad,
                                            std::string_view ciphertext_and_tag) {
    if (key.size() != kAes256KeyBytes) {
        throw std::invalid_argument("AES-256-GCM needs a 32-byte key");
    }
    if (nonce.empty() || ciphertext_and_tag.size() < kGcmTagBytes) return std::nullopt;
    const std::string_view ciphertext =
        ciphertext_and_tag.substr(0, ciphertext_and_tag.size() - kGcmTagBytes);
    std::string tag(ciphertext_and_tag.substr(ciphertext.size()));

    CipherCtxPtr ctx(EVP_CIPHER_CTX_new());
    if (!ctx) ThrowCrypto("cannot allocate a cipher context");
    int length = 0;
    if (EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, IntLength(nonce, "nonce"),
                            nullptr) != 1 ||
        EVP_DecryptInit_ex(ctx.get(), nullptr, nullptr, Bytes(key), Bytes(nonce)) != 1) {
        ThrowCrypto("cannot initialise AES-256-GCM decryption");
    }
    if (!aad.empty() &&
        EVP_DecryptUpdate(ctx.get(), nullptr, &length, Bytes(aad), IntLength(aad, "aad")) != 1) {
        ThrowCrypto("cannot add AES-256-GCM associated data");
    }
    std::string plaintext(ciphertext.size(), '\0');
    auto* out = reinterpret_cast<unsigned char*>(plaintext.data());
    int written = 0;
    if (!ciphertext.empty()) {
        if (EVP_DecryptUpdate(ctx.get(), out, &length, Bytes(ciphertext),
                              IntLength(ciphertext, "ciphertext")) != 1) {
            ThrowCrypto("AES-256-GCM decryption failed");
        }
        written = length;
    }
    if (EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, static_cast<int>(kGcmTagBytes),
                            tag.data()) != 1) {
        ThrowCrypto("cannot set the AES-256-GCM tag");
    }
    // Only Final checks the tag: nothing decrypted is returned unless it passes.
    if (EVP_DecryptFinal_ex(ctx.get(), out + written, &length) != 1) {
        OPENSSL_cleanse(plaintext.data(), plaintext.size());
        ERR_clear_error();
        return std::nullopt;
    }
    plaintext.resize(static_cast<size_t>(written + length));
    return plaintext;
}

std::string Aes256GcmEncrypt(std::string_view key, std::string_view nonce, std::string_view aad,
                             std::string_view plaintext) {
    if (key.size() != kAes256KeyBytes) {
        throw std::invalid_argument("AES-256-GCM needs a 32-byte key");
    }
    if (nonce.empty()) throw std::invalid_argument("AES-256-GCM needs a nonce");
    CipherCtxPtr ctx(EVP_CIPHER_CTX_new());
    if (!ctx) ThrowCrypto("cannot allocate a cipher context");
    int length = 0;
    if (EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, IntLength(nonce, "nonce"),
                            nullptr) != 1 ||
        EVP_EncryptInit_ex(ctx.get(), nullptr, nullptr, Bytes(key), Bytes(nonce)) != 1) {
        ThrowCrypto("cannot initialise AES-256-GCM encryption");
    }
    if (!aad.empty() &&
        EVP_EncryptUpdate(ctx.get(), nullptr, &length, Bytes(aad), IntLength(aad, "aad")) != 1) {
        ThrowCrypto("cannot add AES-256-GCM associated data");
    }
    std::string out(plaintext.size() + kGcmTagBytes, '\0');
    auto* data = reinterpret_cast<unsigned char*>(out.data());
    int written = 0;
    if (!plaintext.empty()) {
        if (EVP_EncryptUpdate(ctx.get(), data, &length, Bytes(plaintext),
                              IntLength(plaintext, "plaintext")) != 1) {
            ThrowCrypto("AES-256-GCM encryption failed");
        }
        written = length;
    }
    if (EVP_EncryptFinal_ex(ctx.get(), data + written, &length) != 1) {
        ThrowCrypto("AES-256-GCM encryption failed");
    }
    written += length;
    if (EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, static_cast<int>(kGcmTagBytes),
                            data + written) != 1) {
        ThrowCrypto("cannot read the AES-256-GCM tag");
    }
    out.resize(static_cast<size_t>(written) + kGcmTagBytes);
    return out;
}

}  // namespace inkstone::lib::payments
