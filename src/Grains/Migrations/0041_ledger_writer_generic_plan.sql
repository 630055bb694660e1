-- The ledger's writer planned its one large statement afresh on every call while batches were
-- small: 2.9 ms of planning per call on the development machine, more than the statement's 1.6 ms
-- of execution for a batch of 15 movements, and as much for an empty one. PL/pgSQL keeps a
-- statement's plan per connection, but PostgreSQL compares a plan made for the call's own values
-- with the generic one before it keeps the generic, and with few transactions in a batch the
-- estimates of the arrays given made the generic look dearer. Every row the statement reads is
-- found by its key (see 0015 and 0018), so the plan does not depend on the values: the generic
-- one is made once per connection and kept.
ALTER FUNCTION ledger_write_transactions(jsonb, text[]) SET plan_cache_mode = force_generic_plan;
