// The control for the forbidden-include checks: the same layer's own headers compile, so the
// probes fail because of the poisoned header and nothing else.
#include "lib/billing/wallet.h"
#include "lib/db/db.h"

int AllowedIncludeProbe() { return sizeof(inkstone::lib::db::DbError) > 0 ? 1 : 0; }
