-- Custom system accounts: a tenant adds an account of its own (@marketing, @escrow) in one asset,
-- with its type in the chart of accounts. It is a system row like the built-in ones; its type is
-- kept on the row (built-in accounts have theirs by name). Accounts of a debit type (asset,
-- expense) may go negative, the others may not.
ALTER TABLE wallets ADD COLUMN account_type text
    CHECK (account_type IN ('asset', 'liability', 'equity', 'income', 'expense', 'clearing'));
ALTER TABLE wallets ADD CONSTRAINT wallets_account_type_system CHECK (account_type IS NULL OR kind = 'system');
