-- 012_users_serial: a counter that transactions bump to write-lock a user's row (README "Scaling
-- out"). On a Galera cluster SELECT ... FOR UPDATE locks a row on its own node only; a check
-- made under that lock (a member's in-flight cap, who is charged 0; the pending-order cap) is
-- safe across nodes only when the transaction also writes the row, so that certification
-- aborts one of two such transactions committed on different nodes. Nothing reads the value.
ALTER TABLE users ADD COLUMN serial BIGINT NOT NULL DEFAULT 0;
