-- 008_admin_users: indexes for the admin dashboard's 30-day ranges (issue 12). The dashboard
-- reads generations and ledger rows by creation time; without these each would scan the table.
ALTER TABLE generations ADD KEY ix_generations_created (created_at);
ALTER TABLE credit_transactions ADD KEY ix_credit_transactions_created (created_at);
