-- 009_refunds: a refused membership refund gives the membership time back. The membership
-- history records it as its own source (ORDER_REFUND_VOID), at most one per order like the
-- ORDER_REFUND row it undoes (UNIQUE (related_order_no, source)).
ALTER TABLE membership_grants DROP CONSTRAINT ck_membership_grants_source;
ALTER TABLE membership_grants ADD CONSTRAINT ck_membership_grants_source
    CHECK (source IN ('ORDER', 'ADMIN', 'REDEEM', 'ORDER_REFUND', 'ORDER_REFUND_VOID'));

-- 'ORDER_REFUND_VOID' is 17 characters: the ledger's type column was VARCHAR(16).
ALTER TABLE credit_transactions MODIFY type VARCHAR(24) CHARACTER SET ascii COLLATE ascii_bin NOT NULL;
-- The same for the membership history's source.
ALTER TABLE membership_grants MODIFY source VARCHAR(24) CHARACTER SET ascii COLLATE ascii_bin NOT NULL;
