-- 001_init: accounts (users, bearer tokens, the login brute-force counter).
--
-- Conventions for every migration: InnoDB, utf8mb4, times are DATETIME(6) in UTC and are
-- written by the application from its injected clock (never NOW(), which follows the session
-- time zone), SQL portable to MariaDB 10.5+, MySQL 8 and TiDB (no triggers, no GET_LOCK).

-- Usernames are case-insensitive for uniqueness and login: "Alice" and "alice" are one
-- account, and "ALICE" logs into it. The application only admits [A-Za-z0-9_]{3,32}, and on
-- that alphabet utf8mb4_unicode_ci folds exactly ASCII case (no ignorable or expanding
-- characters, no trailing spaces), so the UNIQUE key enforces the rule on every host and
-- the username keeps the spelling chosen at registration for display.
--
-- credits and member_expired_at are here for the wallet: credits is signed so that a bad
-- debit fails the CHECK instead of wrapping. is_member is never stored: it is computed as
-- member_expired_at > now.
--
-- role is only ever changed by the admin command-line tool, never through the public API.
CREATE TABLE users (
    id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    username VARCHAR(32) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci NOT NULL,
    email VARCHAR(254) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci NULL,
    password_hash VARCHAR(255) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    role VARCHAR(16) CHARACTER SET ascii COLLATE ascii_bin NOT NULL DEFAULT 'user',
    credits BIGINT NOT NULL DEFAULT 0,
    member_expired_at DATETIME(6) NULL,
    created_at DATETIME(6) NOT NULL,
    updated_at DATETIME(6) NOT NULL,
    PRIMARY KEY (id),
    UNIQUE KEY uq_users_username (username),
    CONSTRAINT ck_users_role CHECK (role IN ('user', 'admin')),
    CONSTRAINT ck_users_credits CHECK (credits >= 0)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

-- Bearer tokens. Only the SHA-256 of the token's 32 random bytes is stored (the token has
-- 256 bits of entropy, so an unsalted fast hash cannot be reversed and a stolen table yields no
-- usable token). Every authenticated request reads this table by primary key, so a logout
-- (revoked_at set) is seen at once by every worker and host. Rows past expires_at are dead
-- and may be purged at any time.
CREATE TABLE auth_tokens (
    token_hash BINARY(32) NOT NULL,
    user_id BIGINT UNSIGNED NOT NULL,
    created_at DATETIME(6) NOT NULL,
    expires_at DATETIME(6) NOT NULL,
    revoked_at DATETIME(6) NULL,
    PRIMARY KEY (token_hash),
    KEY ix_auth_tokens_user (user_id),
    KEY ix_auth_tokens_expires (expires_at),
    CONSTRAINT fk_auth_tokens_user FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

-- The login brute-force counter: one row per failed (or in-flight) attempt, never a counter
-- column. A login inserts its row before checking the password and keeps it only if the
-- password was wrong. A plain INSERT per attempt means attempts from any number of workers and
-- hosts are all counted, with no read-modify-write race and no row lock (Galera and TiDB
-- included). username_key is the lower-cased username. client_key is the client address
-- (an IPv6 address reduced to its /64, which one subscriber controls). "10 failures for this
-- key in the last 15 minutes" is one backward range scan of ix_login_failures_key that reads
-- at most 11 entries. ix_login_failures_time serves the purge of rows older than the window.
CREATE TABLE login_failures (
    id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    username_key VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    client_key VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    failed_at DATETIME(6) NOT NULL,
    PRIMARY KEY (id),
    KEY ix_login_failures_key (username_key, client_key, failed_at),
    KEY ix_login_failures_time (failed_at)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;
