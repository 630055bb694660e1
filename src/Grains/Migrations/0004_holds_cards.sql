-- Holds (two-phase movements), cards, their authorization decisions and the fraud rules.

-- Money held by open holds is not available: the constraint now counts pending too.
ALTER TABLE wallets DROP CONSTRAINT wallets_no_overdraw;
ALTER TABLE wallets ADD CONSTRAINT wallets_no_overdraw CHECK (may_go_negative OR balance - pending >= -overdraft_limit);

-- A hold's captures are entries like any transfer; this says which hold each one captured.
ALTER TABLE entries ADD COLUMN hold_id text;
CREATE INDEX entries_hold ON entries (hold_id) WHERE hold_id IS NOT NULL;

-- amount: what the hold authorizes in all (captured so far plus still held while open).
-- While open, amount - captured is counted in the wallet's pending.
CREATE TABLE holds (
    id             text PRIMARY KEY,
    tenant_id      text NOT NULL,
    wallet_id      text NOT NULL REFERENCES wallets (id),
    destination_id text NOT NULL REFERENCES wallets (id),
    currency       text NOT NULL,
    amount         bigint NOT NULL CHECK (amount >= 0),
    captured       bigint NOT NULL DEFAULT 0 CHECK (captured >= 0 AND captured <= amount),
    status         text NOT NULL CHECK (status IN ('open', 'captured', 'voided', 'expired')),
    reference      text,
    metadata       jsonb,
    expires_at     timestamptz NOT NULL,
    created_at     timestamptz NOT NULL,
    closed_at      timestamptz,
    CHECK ((status = 'open') = (closed_at IS NULL))
);

CREATE INDEX holds_open_expiry ON holds (expires_at) WHERE status = 'open';
CREATE INDEX holds_wallet_open ON holds (wallet_id) WHERE status = 'open';

-- The card number is never stored: only its last four digits and a keyed hash (HMAC-SHA256 with a
-- secret from configuration), unique per tenant.
CREATE TABLE cards (
    id                text PRIMARY KEY,
    tenant_id         text NOT NULL,
    wallet_id         text NOT NULL REFERENCES wallets (id),
    cardholder_name   text NOT NULL,
    last4             text NOT NULL CHECK (last4 ~ '^[0-9]{4}$'),
    number_hash       text NOT NULL,
    status            text NOT NULL CHECK (status IN ('active', 'frozen', 'cancelled')),
    spending_controls jsonb NOT NULL,
    controls_version  integer NOT NULL DEFAULT 1,
    metadata          jsonb,
    created_at        timestamptz NOT NULL,
    updated_at        timestamptz NOT NULL
);

CREATE UNIQUE INDEX cards_tenant_number ON cards (tenant_id, number_hash);
CREATE INDEX cards_tenant_id ON cards (tenant_id, id);

-- Every authorization decision, approved or declined, with its reasons. Written once, never
-- changed: an approved one's later life (captures, reversals, expiry) is its hold's.
CREATE TABLE card_authorizations (
    id                text PRIMARY KEY,
    tenant_id         text NOT NULL,
    card_id           text NOT NULL REFERENCES cards (id),
    wallet_id         text NOT NULL,
    approved          boolean NOT NULL,
    decline_code      text,
    decline_detail    text,
    amount            bigint NOT NULL CHECK (amount > 0),
    currency          text NOT NULL,
    merchant_name     text NOT NULL,
    merchant_category text NOT NULL,
    merchant_country  text,
    description       text,
    fraud_score       numeric(4, 3) NOT NULL,
    fraud_reasons     jsonb NOT NULL,
    review            boolean NOT NULL,
    hold_id           text REFERENCES holds (id),
    controls_version  integer NOT NULL,
    created_at        timestamptz NOT NULL,
    CHECK (approved = (hold_id IS NOT NULL) AND approved = (decline_code IS NULL))
);

CREATE INDEX card_authorizations_card ON card_authorizations (card_id, id);
CREATE INDEX card_authorizations_tenant ON card_authorizations (tenant_id, id);
CREATE UNIQUE INDEX card_authorizations_hold ON card_authorizations (hold_id) WHERE hold_id IS NOT NULL;

CREATE TRIGGER card_authorizations_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON card_authorizations
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change();

CREATE TABLE fraud_rules (
    tenant_id  text PRIMARY KEY,
    rules      jsonb NOT NULL,
    version    integer NOT NULL,
    updated_at timestamptz NOT NULL
);
