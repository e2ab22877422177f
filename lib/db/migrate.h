#pragma once
/// Numbered SQL migrations (`sql/NNN_name.sql`), applied in order, each recorded in
/// `schema_migrations (version, name, checksum, applied_at)`. Re-running applies only new files.
/// A file whose checksum changed after it was applied is an error (migrations are append-only).
#include <string>
#include <vector>

#include "lib/db/db.h"

namespace inkstone::lib::db {

struct MigrationResult {
    std::vector<std::string> applied;  ///< file names applied by this run
    std::vector<std::string> skipped;  ///< already applied before
};

/// Throws std::runtime_error (with the file name and statement number) on failure.
MigrationResult ApplyMigrations(Pool& pool, const std::string& sql_dir);

/// Splits a migration file into statements at `;` outside quotes and comments.
std::vector<std::string> SplitSqlStatements(const std::string& text);

}  // namespace inkstone::lib::db
