#include "lib/db/migrate.h"

#include <cppconn/connection.h>
#include <cppconn/exception.h>
#include <cppconn/prepared_statement.h>
#include <cppconn/resultset.h>
#include <cppconn/statement.h>
#include <cppconn/statement.h>
#include <openssl/evp.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>
#include <stdexcept>

namespace inkstone::lib::db {
namespace {

constexpr const char* kCreateMigrationsTable =
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    " version INT NOT NULL PRIMARY KEY,"
    " name VARCHAR(255) NOT NULL,"
    " checksum CHAR(64) NOT NULL,"
    " applied_at DATETIME(6) NOT NULL"
    ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci";
constexpr const char* kSelectApplied = "SELECT version, name, checksum FROM schema_migrations";
constexpr const char* kInsertApplied =
    "INSERT INTO schema_migrations (version, name, checksum, applied_at) "
    "VALUES (?, ?, ?, UTC_TIMESTAMP(6))";

struct MigrationFile {
    int version;
    std::string name;
    std::string path;
};

struct Applied {
    std::string name;
    std::string checksum;
};

std::string Sha256Hex(const std::string& data) {
    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1 ||
        EVP_DigestUpdate(ctx.get(), data.data(), data.size()) != 1 ||
        EVP_DigestFinal_ex(ctx.get(), digest, &length) != 1) {
        throw std::runtime_error("SHA-256 failed (OpenSSL EVP)");
    }
    static const char kHex[] = "0123456789abcdef";
    std::string out;
    out.reserve(length * 2);
    for (unsigned int i = 0; i < length; ++i) {
        out.push_back(kHex[digest[i] >> 4]);
        out.push_back(kHex[digest[i] & 15]);
    }
    return out;
}

std::string ReadWholeFile(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error("cannot read migration " + path);
    std::ostringstream out;
    out << in.rdbuf();
    if (in.bad()) throw std::runtime_error("cannot read migration " + path);
    return out.str();
}

std::vector<MigrationFile> ListMigrations(const std::string& sql_dir) {
    static const std::regex kPattern("^[0-9]{3}_[a-z0-9_]+\\.sql$");
    std::error_code ec;
    std::filesystem::directory_iterator it(sql_dir, ec);
    if (ec) throw std::runtime_error("cannot list migrations in " + sql_dir + ": " + ec.message());
    std::vector<MigrationFile> files;
    for (const auto& entry : it) {
        const std::string name = entry.path().filename().string();
        if (!std::regex_match(name, kPattern) || !entry.is_regular_file()) continue;
        files.push_back({std::stoi(name.substr(0, 3)), name, entry.path().string()});
    }
    std::sort(files.begin(), files.end(),
              [](const MigrationFile& a, const MigrationFile& b) { return a.name < b.name; });
    for (size_t i = 1; i < files.size(); ++i) {
        if (files[i].version == files[i - 1].version) {
            throw std::runtime_error("two migrations share version " +
                                     std::to_string(files[i].version) + ": " + files[i - 1].name +
                                     ", " + files[i].name);
        }
    }
    return files;
}

std::string Abbreviate(const std::string& statement) {
    std::string one_line;
    for (char c : statement) {
        if (one_line.size() >= 80) return one_line + "...";
        one_line.push_back(c == '\n' || c == '\r' || c == '\t' ? ' ' : c);
    }
    return one_line;
}

[[noreturn]] void Fail(Lease& lease, const std::string& context, const sql::SQLException& e) {
    if (Classify(e) == ErrorKind::kUnavailable) lease.MarkBroken();
    throw std::runtime_error(context + ": (" + std::to_string(e.getErrorCode()) + ") " + e.what());
}

std::map<int, Applied> LoadApplied(Lease& lease) {
    std::map<int, Applied> applied;
    try {
        std::unique_ptr<sql::Statement> stmt(lease.conn().createStatement());
        stmt->execute(kCreateMigrationsTable);
        std::unique_ptr<sql::ResultSet> rs(lease.Prepare(kSelectApplied).executeQuery());
        while (rs->next()) {
            applied[rs->getInt(1)] = {rs->getString(2), rs->getString(3)};
        }
    } catch (const sql::SQLException& e) {
        Fail(lease, "reading schema_migrations", e);
    }
    return applied;
}

void Apply(Lease& lease, const MigrationFile& file, const std::string& text,
           const std::string& checksum) {
    const std::vector<std::string> statements = SplitSqlStatements(text);
    std::unique_ptr<sql::Statement> stmt;
    try {
        stmt.reset(lease.conn().createStatement());
    } catch (const sql::SQLException& e) {
        Fail(lease, file.name, e);
    }
    // DDL commits implicitly in MySQL/MariaDB, so a migration cannot be atomic: the version is
    // recorded only after its last statement succeeded, and a failed file is re-run from the
    // top next time (write migrations with IF NOT EXISTS where it matters).
    for (size_t i = 0; i < statements.size(); ++i) {
        try {
            if (stmt->execute(statements[i])) {
                std::unique_ptr<sql::ResultSet> discard(stmt->getResultSet());
            }
        } catch (const sql::SQLException& e) {
            Fail(lease,
                 file.name + ": statement " + std::to_string(i + 1) + " (" +
                     Abbreviate(statements[i]) + ") failed",
                 e);
        }
    }
    try {
        sql::PreparedStatement& insert = lease.Prepare(kInsertApplied);
        insert.setInt(1, file.version);
        insert.setString(2, file.name);
        insert.setString(3, checksum);
        insert.executeUpdate();
    } catch (const sql::SQLException& e) {
        // 1062 here means another runner applied the same file concurrently.
        Fail(lease, file.name + ": recording in schema_migrations", e);
    }
}

}  // namespace

MigrationResult ApplyMigrations(Pool& pool, const std::string& sql_dir) {
    const std::vector<MigrationFile> files = ListMigrations(sql_dir);
    Lease lease = pool.Acquire();
    const std::map<int, Applied> applied = LoadApplied(lease);

    // Check every applied file before touching the schema: an edited migration means the
    // database and the sources disagree, and applying newer files on top would hide that.
    std::vector<std::string> texts(files.size());
    std::vector<std::string> checksums(files.size());
    for (size_t i = 0; i < files.size(); ++i) {
        texts[i] = ReadWholeFile(files[i].path);
        checksums[i] = Sha256Hex(texts[i]);
        const auto it = applied.find(files[i].version);
        if (it == applied.end()) continue;
        if (it->second.name != files[i].name) {
            throw std::runtime_error("migration version " + std::to_string(files[i].version) +
                                     " was applied as " + it->second.name + " but the file is " +
                                     files[i].name);
        }
        if (it->second.checksum != checksums[i]) {
            throw std::runtime_error("migration " + files[i].name +
                                     " changed after it was applied (checksum " +
                                     it->second.checksum + " in schema_migrations, " +
                                     checksums[i] + " on disk); add a new migration instead");
        }
    }

    MigrationResult result;
    for (size_t i = 0; i < files.size(); ++i) {
        if (applied.count(files[i].version) != 0) {
            result.skipped.push_back(files[i].name);
            continue;
        }
        Apply(lease, files[i], texts[i], checksums[i]);
        result.applied.push_back(files[i].name);
    }
    return result;
}

std::vector<std::string> SplitSqlStatements(const std::string& text) {
    std::vector<std::string> statements;
    std::string current;
    bool has_code = false;  // a statement of only comments/whitespace is dropped
    const size_t n = text.size();

    auto flush = [&] {
        if (has_code) {
            const size_t begin = current.find_first_not_of(" \t\r\n");
            const size_t end = current.find_last_not_of(" \t\r\n");
            statements.push_back(current.substr(begin, end - begin + 1));
        }
        current.clear();
        has_code = false;
    };

    size_t i = 0;
    while (i < n) {
        const char c = text[i];
        const char next = i + 1 < n ? text[i + 1] : '\0';
        if (c == '\'' || c == '"' || c == '`') {
            // Quoted text is copied verbatim. Backslash escapes apply in '...' and "..." (the
            // server runs without NO_BACKSLASH_ESCAPES); a doubled quote escapes itself.
            size_t j = i + 1;
            while (j < n) {
                if (text[j] == '\\' && c != '`' && j + 1 < n) {
                    j += 2;
                } else if (text[j] == c && j + 1 < n && text[j + 1] == c) {
                    j += 2;
                } else if (text[j] == c) {
                    break;
                } else {
                    ++j;
                }
            }
            const size_t end = std::min(j + 1, n);
            current.append(text, i, end - i);
            has_code = true;
            i = end;
            continue;
        }
        // "--" starts a comment only when followed by whitespace (MySQL rule: `1--1` is 2).
        const bool dash_comment =
            c == '-' && next == '-' &&
            (i + 2 >= n || std::isspace(static_cast<unsigned char>(text[i + 2])));
        if (c == '#' || dash_comment) {
            const size_t eol = text.find('\n', i);
            i = eol == std::string::npos ? n : eol;  // keep the newline as a separator
            continue;
        }
        if (c == '/' && next == '*') {
            const size_t close = text.find("*/", i + 2);
            const size_t end = close == std::string::npos ? n : close + 2;
            // `/*! ... */` and `/*M! ... */` are executable comments: the server runs them.
            const bool executable = (i + 2 < n && text[i + 2] == '!') ||
                                    (i + 3 < n && text[i + 2] == 'M' && text[i + 3] == '!');
            if (executable) {
                current.append(text, i, end - i);
                has_code = true;
            } else {
                current.push_back(' ');
            }
            i = end;
            continue;
        }
        if (c == ';') {
            flush();
            ++i;
            continue;
        }
        current.push_back(c);
        if (!std::isspace(static_cast<unsigned char>(c))) has_code = true;
        ++i;
    }
    flush();
    return statements;
}

}  // namespace inkstone::lib::db
