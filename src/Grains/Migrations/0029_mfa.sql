-- A second factor: a TOTP secret (RFC 6238), sealed under Auth:MfaKey and bound to its person,
-- confirmed by a first code before it counts; each code's time step is taken once. Ten recovery
-- codes, kept as hashes, each good once.
ALTER TABLE users
    ADD COLUMN mfa_secret text,
    ADD COLUMN mfa_pending_secret text,
    ADD COLUMN mfa_last_step bigint;

CREATE TABLE mfa_recovery_codes (
    user_id    text NOT NULL REFERENCES users (id),
    code_hash  text NOT NULL,
    used_at    timestamptz,
    PRIMARY KEY (user_id, code_hash)
);

-- Whether a refresh token's sign-in gave a second factor: the tokens it renews say so too.
ALTER TABLE refresh_tokens ADD COLUMN multi_factor boolean NOT NULL DEFAULT false;
