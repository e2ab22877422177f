#pragma once
/// Throwaway RSA keys for the payment tests, generated once per test binary (RSA key
/// generation is slow under the sanitizers). No key is ever committed.
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include "lib/payments/crypto.h"

namespace inkstone::testing {

/// The merchant's / app's own key (signs requests).
inline const lib::payments::PrivateKey& MerchantKey() {
    static const lib::payments::PrivateKey key = lib::payments::PrivateKey::GenerateRsa(2048);
    return key;
}

/// The provider's key (Alipay's key, the WeChat Pay platform key): signs notifies and responses.
inline const lib::payments::PrivateKey& ProviderKey() {
    static const lib::payments::PrivateKey key = lib::payments::PrivateKey::GenerateRsa(2048);
    return key;
}

/// A key nobody trusts.
inline const lib::payments::PrivateKey& StrangerKey() {
    static const lib::payments::PrivateKey key = lib::payments::PrivateKey::GenerateRsa(2048);
    return key;
}

/// A 32-byte APIv3 key, as WeChat Pay's merchant console sets them (printable ASCII).
inline std::string TestApiV3Key() { return lib::payments::RandomHex(16); }

/// The body of a PEM text without its BEGIN/END lines and line breaks: the bare base64 form
/// Alipay's console shows.
inline std::string BareBase64(const std::string& pem) {
    std::string out;
    size_t pos = 0;
    while (pos < pem.size()) {
        size_t end = pem.find('\n', pos);
        if (end == std::string::npos) end = pem.size();
        const std::string line = pem.substr(pos, end - pos);
        if (line.rfind("-----", 0) != 0) out += line;
        pos = end + 1;
    }
    return out;
}

/// A file in a fresh temporary directory, removed with the object.
class TempFile {
  public:
    explicit TempFile(const std::string& content) {
        char pattern[] = "/tmp/inkstone-key-XXXXXX";
        const int fd = mkstemp(pattern);
        if (fd < 0) std::abort();
        close(fd);
        path_ = pattern;
        std::ofstream(path_, std::ios::binary | std::ios::trunc) << content;
    }
    ~TempFile() { unlink(path_.c_str()); }
    TempFile(const TempFile&) = delete;
    TempFile& operator=(const TempFile&) = delete;
    const std::string& path() const { return path_; }

  private:
    std::string path_;
};

}  // namespace inkstone::testing
