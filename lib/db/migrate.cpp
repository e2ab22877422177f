#include "lib/db/migrate.h"

#include <cppconn/connection.h>
#include <cppconn/exception.h>
#include <cppconn/resultset.h>
#include <cppconn/statement.h>
#include <sodium.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <regex>
#include <sstream>
#include <stdexcept>

#include "lib/base/assert.h"

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

// Lower-case hex of the SHA-256 of `data`: the checksum recorded in schema_migrations.
std::string Sha256Hex(const std::string& data) {
    if (sodium_init() < 0) throw std::runtime_error("sodium_init failed");
    unsigned char digest[crypto_hash_sha256_BYTES];
    const int status = crypto_hash_sha256(
        digest, reinterpret_cast<const unsigned char*>(data.data()), data.size());
    // libsodium's SHA-256 has no failure mode; a non-zero status is a broken library.
    INKSTONE_ASSERT(status == 0, "crypto_hash_sha256 returned " + std::to_string(status));
    char hex[crypto_hash_sha256_BYTES * 2 + 1];
    sodium_bin2hex(hex, sizeof hex, digest, sizeof digest);
    return std::string(hex);
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

// The typed statements below already marked the lease broken when the server went away.
[[noreturn]] void Fail(const std::string& context, const DbError& e) {
    throw std::runtime_error(context + ": (" + std::to_string(e.code) + ") " + e.what());
}

std::map<int, Applied> LoadApplied(Lease& lease) {
    std::map<int, Applied> applied;
    try {
        std::unique_ptr<sql::Statement> stmt(lease.conn().createStatement());
        stmt->execute(kCreateMigrationsTable);
    } catch (const sql::SQLException& e) {
        Fail(lease, "reading schema_migrations", e);
    }
    try {
        Rows rows = lease.Query(kSelectApplied);
        while (rows.Next()) {
            applied[static_cast<int>(rows.Int("version"))] = {rows.String("name"),
                                                              rows.String("checksum")};
        }
    } catch (const DbError& e) {
        Fail("reading schema_migrations", e);
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
        lease.Execute(kInsertApplied, file.version, file.name, checksum);
    } catch (const DbError& e) {
        // 1062 here means another runner applied the same file concurrently.
        Fail(file.name + ": recording in schema_migrations", e);
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

namespace {

// The end (one past the closing quote, or the end of the text) of the quoted text starting at
// `i`. Backslash escapes apply in '...' and "..." (the server runs without
// NO_BACKSLASH_ESCAPES); a doubled quote escapes itself.
size_t QuotedEnd(const std::string& text, size_t i) {
    const char quote = text[i];
    const size_t n = text.size();
    size_t j = i + 1;
    while (j < n) {
        if (text[j] == '\\' && quote != '`' && j + 1 < n) {
            j += 2;
        } else if (text[j] == quote && j + 1 < n && text[j + 1] == quote) {
            j += 2;
        } else if (text[j] == quote) {
            break;
        } else {
            ++j;
        }
    }
    return std::min(j + 1, n);
}

// "--" starts a comment only when followed by whitespace (MySQL rule: `1--1` is 2).
bool StartsLineComment(const std::string& text, size_t i) {
    const size_t n = text.size();
    if (text[i] == '#') return true;
    return text[i] == '-' && i + 1 < n && text[i + 1] == '-' &&
           (i + 2 >= n || std::isspace(static_cast<unsigned char>(text[i + 2])));
}

// `/*! ... */` and `/*M! ... */` are executable comments: the server runs them.
bool IsExecutableComment(const std::string& text, size_t i) {
    const size_t n = text.size();
    return (i + 2 < n && text[i + 2] == '!') ||
           (i + 3 < n && text[i + 2] == 'M' && text[i + 3] == '!');
}

}  // namespace

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
        if (c == '\'' || c == '"' || c == '`') {
            // Quoted text is copied verbatim.
            const size_t end = QuotedEnd(text, i);
            current.append(text, i, end - i);
            has_code = true;
            i = end;
        } else if (StartsLineComment(text, i)) {
            const size_t eol = text.find('\n', i);
            i = eol == std::string::npos ? n : eol;  // keep the newline as a separator
        } else if (c == '/' && i + 1 < n && text[i + 1] == '*') {
            const size_t close = text.find("*/", i + 2);
            const size_t end = close == std::string::npos ? n : close + 2;
            if (IsExecutableComment(text, i)) {
                current.append(text, i, end - i);
                has_code = true;
            } else {
                current.push_back(' ');
            }
            i = end;
        } else if (c == ';') {
            flush();
            ++i;
        } else {
            current.push_back(c);
            if (!std::isspace(static_cast<unsigned char>(c))) has_code = true;
            ++i;
        }
    }
    flush();
    return statements;
}

}  // namespace inkstone::lib::db
