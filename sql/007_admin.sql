-- 007_admin: the admin console (issue 12): disabled accounts, the audit log, membership
-- history, the catalog in the database (model prices, a version every worker checks),
-- order refunds, the notify log and redemption codes.

-- A disabled account: login is 403 ACCOUNT_DISABLED and no new generation starts. Disabling
-- also revokes every token in the same transaction, so it holds on every host at once.
ALTER TABLE users ADD COLUMN disabled_at DATETIME(6) NULL AFTER member_expired_at;

-- Two new ledger types:
--   ORDER_REFUND (amount < 0): the credits taken back when a paid recharge order is refunded,
--     linked by related_order_no; UNIQUE (related_order_no, type) allows one per order.
--   ORDER_REFUND_VOID (amount > 0): gives those credits back when the provider definitively
--     refused the refund; again at most one per order.
--   REDEEM (amount > 0): a redemption code worth credits; related_redeem_code_id is UNIQUE,
--     so one code yields at most one row whatever the concurrency.
ALTER TABLE credit_transactions ADD COLUMN related_redeem_code_id BIGINT UNSIGNED NULL AFTER refund_of;
ALTER TABLE credit_transactions ADD UNIQUE KEY uq_credit_transactions_redeem (related_redeem_code_id);
ALTER TABLE credit_transactions DROP CONSTRAINT ck_credit_transactions_type;
ALTER TABLE credit_transactions DROP CONSTRAINT ck_credit_transactions_sign;
ALTER TABLE credit_transactions ADD CONSTRAINT ck_credit_transactions_type
    CHECK (type IN ('RECHARGE', 'BONUS', 'CONSUME', 'REFUND', 'ADMIN_ADJUST',
                    'ORDER_REFUND', 'ORDER_REFUND_VOID', 'REDEEM'));
ALTER TABLE credit_transactions ADD CONSTRAINT ck_credit_transactions_sign CHECK (
    (type IN ('RECHARGE', 'BONUS', 'REFUND', 'ORDER_REFUND_VOID', 'REDEEM') AND amount > 0)
    OR (type IN ('CONSUME', 'ORDER_REFUND') AND amount < 0)
    OR (type = 'ADMIN_ADJUST' AND amount <> 0));
ALTER TABLE credit_transactions ADD CONSTRAINT ck_credit_transactions_links CHECK (
    (type IN ('ORDER_REFUND', 'ORDER_REFUND_VOID') AND related_order_no IS NOT NULL)
    OR type NOT IN ('ORDER_REFUND', 'ORDER_REFUND_VOID'));
ALTER TABLE credit_transactions ADD CONSTRAINT ck_credit_transactions_redeem
    CHECK ((type = 'REDEEM') = (related_redeem_code_id IS NOT NULL));

-- The audit log: one row per admin write, inserted in the same transaction as the change.
-- Append-only: no code path updates or deletes it. actor is `user:<id>` for the web console
-- and API, `cli:<unix user>` for inkstone-admin.
CREATE TABLE admin_audit_log (
    id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    actor VARCHAR(80) NOT NULL,
    actor_user_id BIGINT UNSIGNED NULL,
    action VARCHAR(48) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    target_type VARCHAR(24) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    target_id VARCHAR(64) NOT NULL,
    before_json MEDIUMTEXT NULL,
    after_json MEDIUMTEXT NULL,
    reason VARCHAR(500) NOT NULL,
    request_id VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NULL,
    created_at DATETIME(6) NOT NULL,
    PRIMARY KEY (id),
    KEY ix_admin_audit_log_time (created_at),
    KEY ix_admin_audit_log_target (target_type, target_id, created_at),
    KEY ix_admin_audit_log_action (action, created_at),
    CONSTRAINT ck_admin_audit_log_reason CHECK (CHAR_LENGTH(reason) > 0)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

-- Membership history: every change of users.member_expired_at, with its source. A paid
-- membership order (ORDER), an admin grant (ADMIN), a redemption code (REDEEM, at most one row
-- per code), or a refunded membership order shortening it (ORDER_REFUND).
CREATE TABLE membership_grants (
    id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    user_id BIGINT UNSIGNED NOT NULL,
    source VARCHAR(16) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    months INT NOT NULL DEFAULT 0,
    days INT NOT NULL DEFAULT 0,
    expired_before DATETIME(6) NULL,
    expired_after DATETIME(6) NULL,
    related_order_no VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NULL,
    related_redeem_code_id BIGINT UNSIGNED NULL,
    audit_id BIGINT UNSIGNED NULL,
    created_at DATETIME(6) NOT NULL,
    PRIMARY KEY (id),
    KEY ix_membership_grants_user (user_id, created_at),
    UNIQUE KEY uq_membership_grants_order (related_order_no, source),
    UNIQUE KEY uq_membership_grants_redeem (related_redeem_code_id),
    CONSTRAINT fk_membership_grants_user FOREIGN KEY (user_id) REFERENCES users (id),
    CONSTRAINT ck_membership_grants_source
        CHECK (source IN ('ORDER', 'ADMIN', 'REDEEM', 'ORDER_REFUND'))
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

-- Per-model credit costs set by an admin. A row overrides the config (credit.model_credits,
-- then credit.cost_per_generation), which stays the seed: a model without a row costs what
-- the config says.
CREATE TABLE model_prices (
    model VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    credits BIGINT NOT NULL,
    updated_at DATETIME(6) NOT NULL,
    PRIMARY KEY (model),
    CONSTRAINT ck_model_prices_credits CHECK (credits >= 0)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

-- One row. Every admin write to the catalog (packages, plans, model prices, writing tools)
-- bumps it in the same transaction; workers read it cheaply (with the token lookup or
-- before using a cached catalog) and drop their cache when it moved, so a change is seen by
-- the next request on every worker and host.
CREATE TABLE catalog_version (
    id TINYINT UNSIGNED NOT NULL,
    version BIGINT UNSIGNED NOT NULL,
    PRIMARY KEY (id),
    CONSTRAINT ck_catalog_version_one CHECK (id = 1)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;
INSERT INTO catalog_version (id, version) VALUES (1, 1);

-- Order refunds. refund_no is the out_refund_no sent to the provider (random, like order_no),
-- so a retried provider call refunds once. UNIQUE (order_no): one refund per order, full or
-- partial. The credits (recharge) or the membership time (membership) are taken back in the
-- same transaction that inserts the PENDING row; a refund the provider definitively refuses
-- becomes FAILED and gives them back (ORDER_REFUND_VOID).
CREATE TABLE order_refunds (
    id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    refund_no VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    order_no VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    order_kind VARCHAR(16) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    user_id BIGINT UNSIGNED NOT NULL,
    provider VARCHAR(16) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    amount_fen BIGINT NOT NULL,
    credits BIGINT NOT NULL DEFAULT 0,
    status VARCHAR(16) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    provider_refund_id VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NULL,
    failure VARCHAR(255) NULL,
    reason VARCHAR(500) NOT NULL,
    audit_id BIGINT UNSIGNED NULL,
    created_at DATETIME(6) NOT NULL,
    updated_at DATETIME(6) NOT NULL,
    succeeded_at DATETIME(6) NULL,
    PRIMARY KEY (id),
    UNIQUE KEY uq_order_refunds_refund_no (refund_no),
    UNIQUE KEY uq_order_refunds_order (order_no),
    KEY ix_order_refunds_status (status, updated_at),
    KEY ix_order_refunds_time (created_at),
    CONSTRAINT fk_order_refunds_user FOREIGN KEY (user_id) REFERENCES users (id),
    CONSTRAINT ck_order_refunds_kind CHECK (order_kind IN ('recharge', 'membership')),
    CONSTRAINT ck_order_refunds_amount CHECK (amount_fen > 0 AND credits >= 0),
    CONSTRAINT ck_order_refunds_status CHECK (status IN ('PENDING', 'SUCCESS', 'FAILED'))
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

-- Every payment notify received, accepted or not (outcome: settled, duplicate, rejected:<why>,
-- refund, ...), for the order detail and the dashboard's notify failures. Written on its own,
-- never inside the settlement transaction, so a rejected notify is logged too.
CREATE TABLE notify_log (
    id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    provider VARCHAR(16) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    order_no VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NULL,
    kind VARCHAR(16) CHARACTER SET ascii COLLATE ascii_bin NOT NULL DEFAULT 'payment',
    outcome VARCHAR(48) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    http_status SMALLINT NOT NULL,
    detail VARCHAR(255) NULL,
    received_at DATETIME(6) NOT NULL,
    PRIMARY KEY (id),
    KEY ix_notify_log_order (order_no, received_at),
    KEY ix_notify_log_time (received_at)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

-- Redemption codes (兑换码). A batch is N codes, each worth `credits` or `days` of membership.
-- code is the normalised code (upper case, no separators): 80+ random bits in an alphabet
-- without ambiguous characters. A redeem is one conditional UPDATE ... WHERE used_at IS NULL
-- plus the REDEEM ledger row (or membership grant) in one transaction; the UNIQUE keys on
-- related_redeem_code_id make a second success impossible even across Galera nodes.
CREATE TABLE redeem_batches (
    id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    note VARCHAR(255) NOT NULL,
    credits BIGINT NOT NULL DEFAULT 0,
    days INT NOT NULL DEFAULT 0,
    code_count INT NOT NULL,
    expires_at DATETIME(6) NOT NULL,
    disabled_at DATETIME(6) NULL,
    created_by VARCHAR(80) NOT NULL,
    created_at DATETIME(6) NOT NULL,
    PRIMARY KEY (id),
    KEY ix_redeem_batches_time (created_at),
    CONSTRAINT ck_redeem_batches_value CHECK ((credits > 0) <> (days > 0) AND credits >= 0 AND days >= 0),
    CONSTRAINT ck_redeem_batches_count CHECK (code_count BETWEEN 1 AND 10000)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

CREATE TABLE redeem_codes (
    id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    batch_id BIGINT UNSIGNED NOT NULL,
    code VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    used_by BIGINT UNSIGNED NULL,
    used_at DATETIME(6) NULL,
    PRIMARY KEY (id),
    UNIQUE KEY uq_redeem_codes_code (code),
    KEY ix_redeem_codes_batch (batch_id, id),
    CONSTRAINT fk_redeem_codes_batch FOREIGN KEY (batch_id) REFERENCES redeem_batches (id),
    CONSTRAINT ck_redeem_codes_used CHECK ((used_by IS NULL) = (used_at IS NULL))
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

-- Failed redeem attempts, counted like login failures (one row per failure, never a counter),
-- per user and per client address.
CREATE TABLE redeem_failures (
    id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    user_id BIGINT UNSIGNED NOT NULL,
    client_key VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    failed_at DATETIME(6) NOT NULL,
    PRIMARY KEY (id),
    KEY ix_redeem_failures_user (user_id, failed_at),
    KEY ix_redeem_failures_client (client_key, failed_at),
    KEY ix_redeem_failures_time (failed_at)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

-- Dashboard ranges: paid orders by day and users by creation day.
ALTER TABLE recharge_orders ADD KEY ix_recharge_orders_paid (status, paid_at);
ALTER TABLE membership_orders ADD KEY ix_membership_orders_paid (status, paid_at);
ALTER TABLE users ADD KEY ix_users_created (created_at);
