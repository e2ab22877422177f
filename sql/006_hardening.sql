-- 006_hardening: what the limits of the hardening issue count, and the reconciliation claim.
-- Conventions as in 001: InnoDB, utf8mb4, DATETIME(6) UTC written from the app's clock.

-- Failed logins per client address (any username) and per username (any address): each limit
-- is one backward range scan of its own index that reads at most the limit's entries.
ALTER TABLE login_failures
    ADD KEY ix_login_failures_client (client_key, failed_at),
    ADD KEY ix_login_failures_username (username_key, failed_at);

-- One row per registration attempt, written before the password is hashed, so registrations
-- per client address hold across workers and hosts like the login limits. Purged with the
-- login failures once older than the window.
CREATE TABLE registration_attempts (
    id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    client_key VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    attempted_at DATETIME(6) NOT NULL,
    PRIMARY KEY (id),
    KEY ix_registration_attempts_client (client_key, attempted_at),
    KEY ix_registration_attempts_time (attempted_at)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

-- Reconciliation claims an overdue order before asking its provider: one conditional UPDATE
-- sets reconcile_claimed_until, so of all the workers and hosts running the expiry job at once
-- exactly one asks about an order; the claim is cleared when the answer is in, and lapses on
-- its own if that worker dies mid-question.
ALTER TABLE recharge_orders ADD COLUMN reconcile_claimed_until DATETIME(6) NULL;
ALTER TABLE membership_orders ADD COLUMN reconcile_claimed_until DATETIME(6) NULL;

-- At most payment.max_pending_orders unpaid orders per user: counted by user and status.
ALTER TABLE recharge_orders ADD KEY ix_recharge_orders_pending (user_id, status, expires_at);
ALTER TABLE membership_orders ADD KEY ix_membership_orders_pending (user_id, status, expires_at);
