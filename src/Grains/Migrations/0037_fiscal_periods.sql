-- Fiscal periods: a tenant's calendar months (UTC). Closing one keeps its four reports as they
-- were computed at the close (the trial balance and balance sheet as of its end, the income
-- statement and cash flow over it), and the ledger's sequence number at its end; its reports are
-- answered from this row from then on.
CREATE TABLE fiscal_periods (
    tenant_id  text NOT NULL,
    period     text NOT NULL CHECK (period ~ '^[0-9]{4}-(0[1-9]|1[0-2])$'),
    starts_at  timestamptz NOT NULL,
    ends_at    timestamptz NOT NULL,
    ledger_seq bigint NOT NULL,
    reports    jsonb NOT NULL,
    closed_by  text NOT NULL,
    closed_at  timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, period)
);
