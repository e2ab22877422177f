-- 002_wallet: the credit ledger, price lists, recharge and membership orders, idempotency keys.
--
-- Money is integer fen and credits are integers (BIGINT): no DECIMAL/FLOAT anywhere.
--
-- The ledger invariants (SPEC §5), which every write path keeps inside one transaction:
--   users.credits >= 0 (CHECK in 001);
--   users.credits = SUM(credit_transactions.amount) of that user;
--   each row's balance_after = the running sum of the user's amounts in seq order;
--   a paid recharge order has exactly one RECHARGE row and at most one BONUS row
--     (UNIQUE (related_order_no, type) below);
--   a charge (CONSUME row) has at most one REFUND row (UNIQUE (refund_of) below).
-- Every write to users.credits is a conditional UPDATE that also bumps users.ledger_seq; the
-- ledger row then takes that seq and the balance read back under the same row lock. seq rather
-- than the AUTO_INCREMENT id orders a user's rows, because ids are not allocated in commit order
-- on every engine (TiDB hands out id ranges per server); UNIQUE (user_id, seq) makes two rows
-- claiming one position impossible.
ALTER TABLE users ADD COLUMN ledger_seq BIGINT NOT NULL DEFAULT 0 AFTER credits;

-- Credit packages (GET /credit/prices). Operators may add rows or set active = 0; a price row
-- is never changed once sold, since orders keep their own copy of the terms anyway.
CREATE TABLE credit_prices (
    id INT UNSIGNED NOT NULL AUTO_INCREMENT,
    credits BIGINT NOT NULL,
    bonus_credits BIGINT NOT NULL DEFAULT 0,
    price_fen BIGINT NOT NULL,
    active TINYINT NOT NULL DEFAULT 1,
    sort_order INT NOT NULL DEFAULT 0,
    PRIMARY KEY (id),
    CONSTRAINT ck_credit_prices_credits CHECK (credits > 0),
    CONSTRAINT ck_credit_prices_bonus CHECK (bonus_credits >= 0),
    CONSTRAINT ck_credit_prices_price CHECK (price_fen > 0)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

INSERT INTO credit_prices (id, credits, bonus_credits, price_fen, sort_order) VALUES
    (1, 10, 0, 100, 1),
    (2, 100, 10, 1000, 2),
    (3, 500, 100, 5000, 3),
    (4, 1000, 300, 10000, 4);

-- Membership plans (GET /credit/membership/prices): calendar months for a price.
CREATE TABLE membership_prices (
    id INT UNSIGNED NOT NULL AUTO_INCREMENT,
    plan VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    name VARCHAR(64) NOT NULL,
    months INT NOT NULL,
    price_fen BIGINT NOT NULL,
    active TINYINT NOT NULL DEFAULT 1,
    sort_order INT NOT NULL DEFAULT 0,
    PRIMARY KEY (id),
    UNIQUE KEY uq_membership_prices_plan (plan),
    CONSTRAINT ck_membership_prices_months CHECK (months BETWEEN 1 AND 1200),
    CONSTRAINT ck_membership_prices_price CHECK (price_fen > 0)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

INSERT INTO membership_prices (id, plan, name, months, price_fen, sort_order) VALUES
    (1, 'monthly', '月度会员', 1, 990, 1),
    (2, 'quarterly', '季度会员', 3, 2500, 2),
    (3, 'yearly', '年度会员', 12, 8800, 3);

-- Orders: one table per kind, since they sell different things (credits / months); the
-- order_no's first letter (R / M) says which table holds it, so settlement by order_no is one
-- primary-key-like lookup. order_no is 100 random bits from a CSPRNG (see lib/money.h), unique
-- across hosts without counters. A PENDING order becomes PAID (settled) or EXPIRED (the expiry
-- job, after payment.order_ttl_s); an EXPIRED order that the provider reports paid still
-- becomes PAID, because the money was taken. (paid_provider, provider_trade_no) is the
-- provider's trade number: one payment settles at most one order. The terms (credits, bonus,
-- months, amount) are copied into the order when it is created, so later price changes never
-- alter what a pending order pays or delivers.
CREATE TABLE recharge_orders (
    id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    order_no VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    user_id BIGINT UNSIGNED NOT NULL,
    price_id INT UNSIGNED NULL,
    credits BIGINT NOT NULL,
    bonus_credits BIGINT NOT NULL,
    amount_fen BIGINT NOT NULL,
    payment_method VARCHAR(16) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    status VARCHAR(16) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    created_at DATETIME(6) NOT NULL,
    expires_at DATETIME(6) NOT NULL,
    paid_at DATETIME(6) NULL,
    paid_provider VARCHAR(16) CHARACTER SET ascii COLLATE ascii_bin NULL,
    provider_trade_no VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NULL,
    updated_at DATETIME(6) NOT NULL,
    PRIMARY KEY (id),
    UNIQUE KEY uq_recharge_orders_order_no (order_no),
    UNIQUE KEY uq_recharge_orders_trade (paid_provider, provider_trade_no),
    KEY ix_recharge_orders_user (user_id, created_at),
    KEY ix_recharge_orders_expiry (status, expires_at),
    CONSTRAINT fk_recharge_orders_user FOREIGN KEY (user_id) REFERENCES users (id),
    CONSTRAINT ck_recharge_orders_credits CHECK (credits > 0 AND bonus_credits >= 0),
    CONSTRAINT ck_recharge_orders_amount CHECK (amount_fen > 0),
    CONSTRAINT ck_recharge_orders_method CHECK (payment_method IN ('alipay', 'wechat')),
    CONSTRAINT ck_recharge_orders_status CHECK (status IN ('PENDING', 'PAID', 'EXPIRED')),
    CONSTRAINT ck_recharge_orders_paid CHECK (
        (status = 'PAID') = (paid_at IS NOT NULL AND provider_trade_no IS NOT NULL))
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

-- member_from / member_until: the period this order bought, written when it is settled
-- (member_until is the user's member_expired_at right after).
CREATE TABLE membership_orders (
    id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    order_no VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    user_id BIGINT UNSIGNED NOT NULL,
    price_id INT UNSIGNED NOT NULL,
    plan VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    months INT NOT NULL,
    amount_fen BIGINT NOT NULL,
    payment_method VARCHAR(16) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    status VARCHAR(16) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    created_at DATETIME(6) NOT NULL,
    expires_at DATETIME(6) NOT NULL,
    paid_at DATETIME(6) NULL,
    paid_provider VARCHAR(16) CHARACTER SET ascii COLLATE ascii_bin NULL,
    provider_trade_no VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NULL,
    member_from DATETIME(6) NULL,
    member_until DATETIME(6) NULL,
    updated_at DATETIME(6) NOT NULL,
    PRIMARY KEY (id),
    UNIQUE KEY uq_membership_orders_order_no (order_no),
    UNIQUE KEY uq_membership_orders_trade (paid_provider, provider_trade_no),
    KEY ix_membership_orders_user (user_id, created_at),
    KEY ix_membership_orders_expiry (status, expires_at),
    CONSTRAINT fk_membership_orders_user FOREIGN KEY (user_id) REFERENCES users (id),
    CONSTRAINT ck_membership_orders_months CHECK (months BETWEEN 1 AND 1200),
    CONSTRAINT ck_membership_orders_amount CHECK (amount_fen > 0),
    CONSTRAINT ck_membership_orders_method CHECK (payment_method IN ('alipay', 'wechat')),
    CONSTRAINT ck_membership_orders_status CHECK (status IN ('PENDING', 'PAID', 'EXPIRED')),
    CONSTRAINT ck_membership_orders_paid CHECK (
        (status = 'PAID') = (paid_at IS NOT NULL AND provider_trade_no IS NOT NULL
                             AND member_until IS NOT NULL))
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

-- The ledger: append-only (the application never UPDATEs or DELETEs a row). amount is signed
-- (RECHARGE, BONUS, REFUND > 0; CONSUME < 0; ADMIN_ADJUST either). related_order_no links a
-- RECHARGE/BONUS row to its order, related_generation_id a CONSUME row to its generation
-- (issue 5), refund_of a REFUND row to the CONSUME row it reverses.
CREATE TABLE credit_transactions (
    id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    user_id BIGINT UNSIGNED NOT NULL,
    seq BIGINT NOT NULL,
    type VARCHAR(16) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    amount BIGINT NOT NULL,
    balance_after BIGINT NOT NULL,
    description VARCHAR(255) NOT NULL,
    related_order_no VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NULL,
    related_generation_id BIGINT UNSIGNED NULL,
    refund_of BIGINT UNSIGNED NULL,
    created_at DATETIME(6) NOT NULL,
    PRIMARY KEY (id),
    UNIQUE KEY uq_credit_transactions_seq (user_id, seq),
    UNIQUE KEY uq_credit_transactions_order (related_order_no, type),
    UNIQUE KEY uq_credit_transactions_refund (refund_of),
    KEY ix_credit_transactions_type (user_id, type, seq),
    KEY ix_credit_transactions_generation (related_generation_id),
    CONSTRAINT fk_credit_transactions_user FOREIGN KEY (user_id) REFERENCES users (id),
    CONSTRAINT fk_credit_transactions_refund FOREIGN KEY (refund_of)
        REFERENCES credit_transactions (id),
    CONSTRAINT ck_credit_transactions_type
        CHECK (type IN ('RECHARGE', 'BONUS', 'CONSUME', 'REFUND', 'ADMIN_ADJUST')),
    CONSTRAINT ck_credit_transactions_sign CHECK (
        (type IN ('RECHARGE', 'BONUS', 'REFUND') AND amount > 0)
        OR (type = 'CONSUME' AND amount < 0)
        OR (type = 'ADMIN_ADJUST' AND amount <> 0)),
    CONSTRAINT ck_credit_transactions_balance CHECK (balance_after >= 0),
    CONSTRAINT ck_credit_transactions_refund CHECK ((type = 'REFUND') = (refund_of IS NOT NULL))
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

-- Idempotency-Key on order creation (SPEC §3). The key row is inserted in the same transaction
-- as the order it guards, so a second request with the same key waits on the primary key until
-- the first commits, then reads the stored response (or finds the first rolled back and goes
-- on). request_hash is SHA-256 of the endpoint and the canonical JSON body: the same key with
-- another body is a 409. Rows are dead after expires_at (24 h) and purged by a job.
CREATE TABLE idempotency_keys (
    user_id BIGINT UNSIGNED NOT NULL,
    idem_key VARCHAR(128) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    request_hash BINARY(32) NOT NULL,
    response_status SMALLINT NOT NULL,
    response_body MEDIUMTEXT NOT NULL,
    created_at DATETIME(6) NOT NULL,
    expires_at DATETIME(6) NOT NULL,
    PRIMARY KEY (user_id, idem_key),
    KEY ix_idempotency_keys_expires (expires_at),
    CONSTRAINT fk_idempotency_keys_user FOREIGN KEY (user_id) REFERENCES users (id)
        ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;
