-- An operator may give @treasury or @promotions a budget: the account then may not go negative
-- beyond it (may_go_negative off, the budget as its overdraft limit, which wallets_no_overdraw
-- holds every posting to). Each silo reads which issuing accounts have one every second; this
-- keeps that read to the system accounts that may not go negative.
CREATE INDEX wallets_limited_system_accounts ON wallets (id) WHERE kind = 'system' AND NOT may_go_negative;
