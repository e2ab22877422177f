#pragma once
/// The few cryptographic primitives the payment providers need, over OpenSSL 3's EVP API:
/// RSA keys (load, generate, PEM), SHA256withRSA signatures as base64, strict base64,
/// AES-256-GCM, SHA-256 and random nonces.
///
/// Errors: a key that cannot be loaded or an OpenSSL call that fails throws CryptoError, whose
/// message names the problem and never contains key material. A signature that does not
/// verify or a ciphertext that does not authenticate is an ordinary outcome (false / nullopt).
///
/// Thread-safety: keys are immutable after loading; one key may sign and verify from many
/// threads at once. Copies share the same underlying EVP_PKEY (reference counted).
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

// OpenSSL's EVP_PKEY (`typedef struct evp_pkey_st EVP_PKEY`), named without its headers:
// OpenSSL is private to lib/payments (README, "Layers").
struct evp_pkey_st;

namespace inkstone::lib::payments {

struct CryptoError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

/// An RSA public key (at least 2048 bits), used to verify SHA256withRSA signatures.
class PublicKey {
  public:
    /// Accepts PEM `PUBLIC KEY` (SubjectPublicKeyInfo), PEM `RSA PUBLIC KEY` (PKCS#1), PEM
    /// `CERTIFICATE` (its subject key) or, as Alipay publishes keys, bare base64 of the
    /// SubjectPublicKeyInfo DER (whitespace and line breaks ignored). Throws CryptoError.
    static PublicKey FromText(std::string_view text);
    /// FromText() of a file's content. Throws CryptoError naming the path when unreadable.
    static PublicKey FromFile(const std::string& path);

    /// True when `signature_base64` (strict base64) is an RSASSA-PKCS1-v1_5 SHA-256 signature
    /// of `message` by this key. Malformed base64 is false, not an error.
    bool VerifySha256(std::string_view message, std::string_view signature_base64) const;

    /// PEM `PUBLIC KEY`.
    std::string ToPem() const;

  private:
    explicit PublicKey(std::shared_ptr<evp_pkey_st> key) : key_(std::move(key)) {}
    friend class PrivateKey;
    std::shared_ptr<evp_pkey_st> key_;
};

/// An RSA private key (at least 2048 bits), used to sign SHA256withRSA.
class PrivateKey {
  public:
    /// Accepts PEM `PRIVATE KEY` (PKCS#8), PEM `RSA PRIVATE KEY` (PKCS#1, unencrypted) or bare
    /// base64 of either DER (Alipay's key tool writes these). Encrypted keys are refused.
    /// Throws CryptoError.
    static PrivateKey FromText(std::string_view text);
    /// FromText() of a file's content. Throws CryptoError naming the path when unreadable.
    static PrivateKey FromFile(const std::string& path);
    /// A fresh key, for tests and the mock payment provider.
    static PrivateKey GenerateRsa(int bits = 2048);

    /// RSASSA-PKCS1-v1_5 over SHA-256 of `message`, base64 (standard alphabet, padded).
    std::string SignSha256(std::string_view message) const;

    PublicKey Public() const;
    /// PEM `PRIVATE KEY` (PKCS#8, unencrypted).
    std::string ToPem() const;

  private:
    explicit PrivateKey(std::shared_ptr<evp_pkey_st> key) : key_(std::move(key)) {}
    std::shared_ptr<evp_pkey_st> key_;
};

/// Standard base64 (RFC 4648 §4) with padding.
std::string Base64Encode(std::string_view bytes);
/// Strict inverse of Base64Encode: padding required, no whitespace, no other alphabet, no
/// non-zero padding bits. nullopt when `text` is not exactly that.
std::optional<std::string> Base64Decode(std::string_view text);

/// Lower-case hex of SHA-256(`bytes`).
std::string Sha256Hex(std::string_view bytes);

/// `bytes` random bytes from OpenSSL's CSPRNG as upper-case hex (2 × `bytes` characters).
/// Throws CryptoError when the generator fails.
std::string RandomHex(size_t bytes);

constexpr size_t kAes256KeyBytes = 32;
constexpr size_t kGcmTagBytes = 16;

/// AES-256-GCM decryption of `ciphertext_and_tag` (the tag is the last 16 bytes) with
/// additional data `aad` (may be empty). nullopt when the input is shorter than a tag, the
/// nonce is empty, or authentication fails (wrong key, nonce, AAD, ciphertext or tag).
/// Throws std::invalid_argument when `key` is not 32 bytes (a setup bug, checked at startup).
std::optional<std::string> Aes256GcmDecrypt(std::string_view key, std::string_view nonce,
                                            std::string_view aad,
                                            std::string_view ciphertext_and_tag);
/// The encrypting side (the mock provider builds WeChat-style notifies with it): returns
/// ciphertext followed by the 16-byte tag. Throws std::invalid_argument for a key that is not
/// 32 bytes or an empty nonce.
std::string Aes256GcmEncrypt(std::string_view key, std::string_view nonce, std::string_view aad,
                             std::string_view plaintext);

}  // namespace inkstone::lib::payments
