#include "lib/payments/crypto.h"

#include <gtest/gtest.h>
#include <openssl/bio.h>
#include <openssl/encoder.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <memory>
#include <set>
#include <string>

#include "tests/unit/payment_test_keys.h"

namespace inkstone::lib {
using namespace inkstone::lib::payments;
namespace {

using testing::BareBase64;
using testing::MerchantKey;
using testing::ProviderKey;
using testing::TempFile;

bool Contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

/// The CryptoError message of `load`, or "" (and a failure) when it loads.
template <typename Load>
std::string LoadError(Load load) {
    try {
        load();
    } catch (const CryptoError& e) {
        return e.what();
    }
    ADD_FAILURE() << "the key loaded";
    return "";
}

std::string Crlf(const std::string& text) {
    std::string out;
    for (const char c : text) {
        if (c == '\n') out += '\r';
        out += c;
    }
    return out;
}

// --- Independent OpenSSL plumbing, so the tests do not check lib code with itself. ---

struct PkeyFree {
    void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;

Pkey ParsePrivatePem(const std::string& pem) {
    BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
    EVP_PKEY* key = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
    BIO_free(bio);
    return Pkey(key);
}

/// `key` written by OpenSSL's encoder as `output` ("PEM"/"DER") of `structure`.
std::string Encode(EVP_PKEY* key, int selection, const char* output, const char* structure) {
    OSSL_ENCODER_CTX* ctx =
        OSSL_ENCODER_CTX_new_for_pkey(key, selection, output, structure, nullptr);
    unsigned char* data = nullptr;
    size_t length = 0;
    const bool ok = ctx != nullptr && OSSL_ENCODER_to_data(ctx, &data, &length) == 1;
    OSSL_ENCODER_CTX_free(ctx);
    if (!ok) return "";
    std::string out(reinterpret_cast<char*>(data), length);
    OPENSSL_free(data);
    return out;
}

std::string SelfSignedCertificatePem(EVP_PKEY* key) {
    X509* cert = X509_new();
    std::string pem;
    if (cert != nullptr && X509_set_version(cert, 2) == 1 &&
        ASN1_INTEGER_set(X509_get_serialNumber(cert), 1) == 1 &&
        X509_gmtime_adj(X509_getm_notBefore(cert), 0) != nullptr &&
        X509_gmtime_adj(X509_getm_notAfter(cert), 3600) != nullptr &&
        X509_set_pubkey(cert, key) == 1 && X509_sign(cert, key, EVP_sha256()) > 0) {
        BIO* bio = BIO_new(BIO_s_mem());
        if (PEM_write_bio_X509(bio, cert) == 1) {
            char* data = nullptr;
            const long length = BIO_get_mem_data(bio, &data);
            pem.assign(data, static_cast<size_t>(length));
        }
        BIO_free(bio);
    }
    X509_free(cert);
    return pem;
}

std::string EncryptedPkcs8Pem(EVP_PKEY* key) {
    BIO* bio = BIO_new(BIO_s_mem());
    char password[] = "correct horse";
    std::string pem;
    if (PEM_write_bio_PKCS8PrivateKey(bio, key, EVP_aes_256_cbc(), password,
                                      static_cast<int>(sizeof password - 1), nullptr,
                                      nullptr) == 1) {
        char* data = nullptr;
        const long length = BIO_get_mem_data(bio, &data);
        pem.assign(data, static_cast<size_t>(length));
    }
    BIO_free(bio);
    return pem;
}

/// AES-256-GCM encryption written directly against EVP, the reference the lib decrypts.
std::string ReferenceGcmEncrypt(const std::string& key, const std::string& nonce,
                                const std::string& aad, const std::string& plaintext) {
    EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
    std::string out(plaintext.size() + 16, '\0');
    auto* data = reinterpret_cast<unsigned char*>(out.data());
    int length = 0;
    int total = 0;
    bool ok = EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), nullptr, nullptr, nullptr) == 1 &&
              EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, static_cast<int>(nonce.size()),
                                  nullptr) == 1 &&
              EVP_EncryptInit_ex(ctx, nullptr, nullptr,
                                 reinterpret_cast<const unsigned char*>(key.data()),
                                 reinterpret_cast<const unsigned char*>(nonce.data())) == 1;
    ok = ok && EVP_EncryptUpdate(ctx, nullptr, &length,
                                 reinterpret_cast<const unsigned char*>(aad.data()),
                                 static_cast<int>(aad.size())) == 1;
    ok = ok && EVP_EncryptUpdate(ctx, data, &length,
                                 reinterpret_cast<const unsigned char*>(plaintext.data()),
                                 static_cast<int>(plaintext.size())) == 1;
    total = length;
    ok = ok && EVP_EncryptFinal_ex(ctx, data + total, &length) == 1;
    total += length;
    ok = ok && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, 16, data + total) == 1;
    EVP_CIPHER_CTX_free(ctx);
    EXPECT_TRUE(ok);
    out.resize(static_cast<size_t>(total) + 16);
    return out;
}

// --- base64, SHA-256, random ---

TEST(Base64, Rfc4648Vectors) {
    const std::pair<const char*, const char*> vectors[] = {
        {"", ""},
        {"f", "Zg=="},
        {"fo", "Zm8="},
        {"foo", "Zm9v"},
        {"foob", "Zm9vYg=="},
        {"fooba", "Zm9vYmE="},
        {"foobar", "Zm9vYmFy"},
    };
    for (const auto& [plain, encoded] : vectors) {
        EXPECT_EQ(Base64Encode(plain), encoded);
        EXPECT_EQ(Base64Decode(encoded), std::optional<std::string>(plain)) << encoded;
    }
    const std::string binary("\x00\xff\xfe+/\x80", 6);
    EXPECT_EQ(Base64Encode(binary), "AP/+Ky+A");
    EXPECT_EQ(Base64Decode("AP/+Ky+A"), binary);
}

TEST(Base64, DecodeIsStrict) {
    for (const char* bad : {"Zg", "Zg=", "Zm9", "Zg==\n", " Zg==", "Zm 9v", "Zm9v\r\n",
                            "Zh==", "Zm9=", "Zg==Zg==", "Zm9v====", "Z===", "Zm-_", "Zm9v!",
                            "====", "Zg=a", "=Zg="}) {
        EXPECT_EQ(Base64Decode(bad), std::nullopt) << bad;
    }
}

TEST(Sha256Hex, KnownVectors) {
    EXPECT_EQ(Sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(RandomHex, LengthAlphabetAndUniqueness) {
    std::set<std::string> seen;
    for (int i = 0; i < 100; ++i) {
        const std::string nonce = RandomHex(16);
        ASSERT_EQ(nonce.size(), 32u);
        EXPECT_EQ(nonce.find_first_not_of("0123456789ABCDEF"), std::string::npos) << nonce;
        seen.insert(nonce);
    }
    EXPECT_EQ(seen.size(), 100u);
    EXPECT_THROW(RandomHex(0), std::invalid_argument);
}

// --- signatures ---

TEST(Signature, RoundTripAndEveryTamperingFails) {
    const std::string message = "app_id=2021000000000000&total_amount=10.00&subject=写作 积分";
    const std::string signature = MerchantKey().SignSha256(message);
    const PublicKey key = MerchantKey().Public();
    EXPECT_TRUE(key.VerifySha256(message, signature));
    EXPECT_EQ(Base64Decode(signature)->size(), 256u);  // RSA-2048

    EXPECT_FALSE(key.VerifySha256(message + " ", signature));
    EXPECT_FALSE(key.VerifySha256("", signature));
    EXPECT_FALSE(ProviderKey().Public().VerifySha256(message, signature));
    std::string flipped = *Base64Decode(signature);
    flipped[100] = static_cast<char>(flipped[100] ^ 1);
    EXPECT_FALSE(key.VerifySha256(message, Base64Encode(flipped)));
    EXPECT_FALSE(key.VerifySha256(message, Base64Encode(flipped.substr(1))));  // wrong length
    EXPECT_FALSE(key.VerifySha256(message, ""));
    EXPECT_FALSE(key.VerifySha256(message, "not base64!"));
    EXPECT_FALSE(key.VerifySha256(message, signature + "\n"));
}

TEST(Signature, MatchesOpensslSha256WithRsaPkcs1) {
    // The same key through OpenSSL's one-shot API: PKCS#1 v1.5 signatures are deterministic.
    const std::string message = "GET\n/v3/pay/transactions/out-trade-no/1?mchid=1\n1\nN\n\n";
    Pkey key = ParsePrivatePem(MerchantKey().ToPem());
    ASSERT_TRUE(key);
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    size_t length = 512;
    unsigned char signature[512];
    ASSERT_EQ(EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, key.get()), 1);
    ASSERT_EQ(
        EVP_DigestSign(ctx, signature, &length,
                       reinterpret_cast<const unsigned char*>(message.data()), message.size()),
        1);
    EVP_MD_CTX_free(ctx);
    EXPECT_EQ(MerchantKey().SignSha256(message),
              Base64Encode(std::string(reinterpret_cast<char*>(signature), length)));
}

// --- key loading ---

TEST(KeyLoading, EveryAcceptedPrivateKeyFormSignsTheSame) {
    Pkey pkey = ParsePrivatePem(MerchantKey().ToPem());
    ASSERT_TRUE(pkey);
    const std::string pkcs8_pem = MerchantKey().ToPem();
    ASSERT_TRUE(Contains(pkcs8_pem, "-----BEGIN PRIVATE KEY-----"));
    const std::string pkcs1_pem =
        Encode(pkey.get(), OSSL_KEYMGMT_SELECT_KEYPAIR, "PEM", "type-specific");
    ASSERT_TRUE(Contains(pkcs1_pem, "-----BEGIN RSA PRIVATE KEY-----")) << pkcs1_pem.substr(0, 40);
    const std::string pkcs1_der =
        Encode(pkey.get(), OSSL_KEYMGMT_SELECT_KEYPAIR, "DER", "type-specific");
    ASSERT_FALSE(pkcs1_der.empty());

    const std::string expected = MerchantKey().SignSha256("message");
    for (const std::string& text :
         {pkcs8_pem, pkcs1_pem, BareBase64(pkcs8_pem), Base64Encode(pkcs1_der),
          "\n\n" + pkcs8_pem + "\n", "some text before the block\n" + pkcs8_pem, Crlf(pkcs1_pem)}) {
        EXPECT_EQ(PrivateKey::FromText(text).SignSha256("message"), expected);
    }
    TempFile file(pkcs1_pem);
    EXPECT_EQ(PrivateKey::FromFile(file.path()).SignSha256("message"), expected);
}

TEST(KeyLoading, EveryAcceptedPublicKeyFormVerifies) {
    Pkey pkey = ParsePrivatePem(ProviderKey().ToPem());
    ASSERT_TRUE(pkey);
    const std::string spki_pem = ProviderKey().Public().ToPem();
    ASSERT_TRUE(Contains(spki_pem, "-----BEGIN PUBLIC KEY-----"));
    const std::string pkcs1_pem =
        Encode(pkey.get(), OSSL_KEYMGMT_SELECT_PUBLIC_KEY, "PEM", "type-specific");
    ASSERT_TRUE(Contains(pkcs1_pem, "-----BEGIN RSA PUBLIC KEY-----")) << pkcs1_pem;
    const std::string certificate = SelfSignedCertificatePem(pkey.get());
    ASSERT_TRUE(Contains(certificate, "-----BEGIN CERTIFICATE-----"));

    const std::string signature = ProviderKey().SignSha256("notify");
    const std::string bare = BareBase64(spki_pem);
    std::string wrapped;  // the same base64 with line breaks every 64 characters
    for (size_t i = 0; i < bare.size(); i += 64) wrapped += bare.substr(i, 64) + "\r\n";
    for (const std::string& text : {spki_pem, pkcs1_pem, certificate, bare, wrapped}) {
        EXPECT_TRUE(PublicKey::FromText(text).VerifySha256("notify", signature));
        EXPECT_FALSE(PublicKey::FromText(text).VerifySha256("notify!", signature));
    }
    TempFile file(bare);
    EXPECT_TRUE(PublicKey::FromFile(file.path()).VerifySha256("notify", signature));
}

TEST(KeyLoading, RejectsWhatIsNotTheRightKindOfKey) {
    const std::string private_pem = MerchantKey().ToPem();
    const std::string public_pem = MerchantKey().Public().ToPem();
    // A public key where a private one belongs and vice versa: a misconfiguration, not a key.
    EXPECT_TRUE(Contains(LoadError([&] { PrivateKey::FromText(public_pem); }), "PUBLIC KEY"));
    EXPECT_TRUE(Contains(LoadError([&] { PublicKey::FromText(private_pem); }), "PRIVATE KEY"));
    LoadError([&] { PrivateKey::FromText(BareBase64(public_pem)); });
    LoadError([&] { PublicKey::FromText(BareBase64(private_pem)); });

    for (const std::string& garbage :
         {std::string(), std::string("   \n"), std::string("not a key"),
          std::string("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"),
          std::string("-----BEGIN PRIVATE KEY-----\nnot base64\n"), Base64Encode("just bytes")}) {
        LoadError([&] { PrivateKey::FromText(garbage); });
        LoadError([&] { PublicKey::FromText(garbage); });
    }

    Pkey weak(EVP_RSA_gen(1024));
    ASSERT_TRUE(weak);
    const std::string weak_pem =
        Encode(weak.get(), OSSL_KEYMGMT_SELECT_KEYPAIR, "PEM", "PrivateKeyInfo");
    EXPECT_TRUE(Contains(LoadError([&] { PrivateKey::FromText(weak_pem); }), "2048"));
    const std::string weak_public =
        Encode(weak.get(), OSSL_KEYMGMT_SELECT_PUBLIC_KEY, "PEM", "SubjectPublicKeyInfo");
    EXPECT_TRUE(Contains(LoadError([&] { PublicKey::FromText(weak_public); }), "2048"));

    Pkey ec(EVP_EC_gen("P-256"));
    ASSERT_TRUE(ec);
    LoadError([&] {
        PrivateKey::FromText(
            Encode(ec.get(), OSSL_KEYMGMT_SELECT_KEYPAIR, "PEM", "PrivateKeyInfo"));
    });
    LoadError([&] {
        PublicKey::FromText(
            Encode(ec.get(), OSSL_KEYMGMT_SELECT_PUBLIC_KEY, "PEM", "SubjectPublicKeyInfo"));
    });

    Pkey pkey = ParsePrivatePem(private_pem);
    const std::string encrypted = EncryptedPkcs8Pem(pkey.get());
    ASSERT_TRUE(Contains(encrypted, "ENCRYPTED PRIVATE KEY"));
    EXPECT_TRUE(Contains(LoadError([&] { PrivateKey::FromText(encrypted); }), "encrypted"));
}

TEST(KeyLoading, ErrorsNameTheFileAndNeverQuoteTheKey) {
    const std::string missing = "/nonexistent/inkstone/alipay_private.pem";
    std::string error = LoadError([&] { PrivateKey::FromFile(missing); });
    EXPECT_TRUE(Contains(error, missing)) << error;
    error = LoadError([&] { PublicKey::FromFile(missing); });
    EXPECT_TRUE(Contains(error, missing)) << error;

    // A private key with a damaged body: the message must not echo any of it.
    const std::string bare = BareBase64(MerchantKey().ToPem());
    std::string damaged = bare;
    damaged[damaged.size() / 2] = '!';
    TempFile file(damaged);
    error = LoadError([&] { PrivateKey::FromFile(file.path()); });
    EXPECT_TRUE(Contains(error, file.path())) << error;
    for (size_t i = 0; i + 16 <= bare.size(); i += 16) {
        ASSERT_FALSE(Contains(error, bare.substr(i, 16))) << error;
    }
    std::string truncated = MerchantKey().ToPem();
    truncated.erase(200, 300);
    error = LoadError([&] { PrivateKey::FromText(truncated); });
    for (size_t i = 0; i + 16 <= bare.size(); i += 16) {
        ASSERT_FALSE(Contains(error, bare.substr(i, 16))) << error;
    }
}

// --- AES-256-GCM ---

class AesGcm : public ::testing::Test {
  protected:
    const std::string key_ = "0123456789abcdef0123456789ABCDEF";  // 32 bytes, like an APIv3 key
    const std::string nonce_ = "8h3K2mQ9xZ1a";                    // 12 bytes, like WeChat's
    const std::string aad_ = "transaction";
    const std::string plaintext_ = R"({"out_trade_no":"IS20260101","amount":{"total":100}})";
};

TEST_F(AesGcm, DecryptsWhatOpensslEncrypted) {
    const std::string sealed = ReferenceGcmEncrypt(key_, nonce_, aad_, plaintext_);
    EXPECT_EQ(Aes256GcmDecrypt(key_, nonce_, aad_, sealed), plaintext_);
    EXPECT_EQ(Aes256GcmEncrypt(key_, nonce_, aad_, plaintext_), sealed);

    const std::string no_aad = ReferenceGcmEncrypt(key_, nonce_, "", plaintext_);
    EXPECT_EQ(Aes256GcmDecrypt(key_, nonce_, "", no_aad), plaintext_);
    const std::string empty = ReferenceGcmEncrypt(key_, nonce_, aad_, "");
    ASSERT_EQ(empty.size(), 16u);
    EXPECT_EQ(Aes256GcmDecrypt(key_, nonce_, aad_, empty), std::string());
}

TEST_F(AesGcm, EveryCorruptionFailsAuthentication) {
    const std::string sealed = ReferenceGcmEncrypt(key_, nonce_, aad_, plaintext_);
    for (size_t i = 0; i < sealed.size(); ++i) {
        std::string corrupt = sealed;
        corrupt[i] = static_cast<char>(corrupt[i] ^ 0x01);
        ASSERT_EQ(Aes256GcmDecrypt(key_, nonce_, aad_, corrupt), std::nullopt)
            << "byte " << i << (i >= sealed.size() - 16 ? " (tag)" : " (ciphertext)");
    }
    std::string wrong_key = key_;
    wrong_key[0] = 'X';
    EXPECT_EQ(Aes256GcmDecrypt(wrong_key, nonce_, aad_, sealed), std::nullopt);
    EXPECT_EQ(Aes256GcmDecrypt(key_, "8h3K2mQ9xZ1b", aad_, sealed), std::nullopt);
    EXPECT_EQ(Aes256GcmDecrypt(key_, nonce_, "transactioN", sealed), std::nullopt);
    EXPECT_EQ(Aes256GcmDecrypt(key_, nonce_, "", sealed), std::nullopt);
    EXPECT_EQ(Aes256GcmDecrypt(key_, nonce_, aad_, sealed.substr(0, sealed.size() - 1)),
              std::nullopt);
    EXPECT_EQ(Aes256GcmDecrypt(key_, nonce_, aad_, sealed.substr(1)), std::nullopt);
    EXPECT_EQ(Aes256GcmDecrypt(key_, nonce_, aad_, sealed.substr(0, 15)), std::nullopt);
    EXPECT_EQ(Aes256GcmDecrypt(key_, nonce_, aad_, ""), std::nullopt);
    EXPECT_EQ(Aes256GcmDecrypt(key_, "", aad_, sealed), std::nullopt);
}

TEST_F(AesGcm, KeyMustBe32Bytes) {
    const std::string sealed = ReferenceGcmEncrypt(key_, nonce_, aad_, plaintext_);
    EXPECT_THROW(Aes256GcmDecrypt(key_.substr(1), nonce_, aad_, sealed), std::invalid_argument);
    EXPECT_THROW(Aes256GcmDecrypt(key_ + "x", nonce_, aad_, sealed), std::invalid_argument);
    EXPECT_THROW(Aes256GcmEncrypt(key_.substr(1), nonce_, aad_, "x"), std::invalid_argument);
    EXPECT_THROW(Aes256GcmEncrypt(key_, "", aad_, "x"), std::invalid_argument);
}

}  // namespace
}  // namespace inkstone::lib
