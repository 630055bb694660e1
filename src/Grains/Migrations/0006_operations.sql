-- What operators look at: the result of every ledger verify (the dashboard shows the last one,
-- whichever silo or API process ran it) and dashboard sign-in sessions.

CREATE TABLE ledger_verifications (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    ran_at          timestamptz NOT NULL,
    duration_ms     double precision NOT NULL,
    ok              boolean NOT NULL,
    wallets_checked bigint NOT NULL,
    entries_checked bigint NOT NULL,
    problem_count   integer NOT NULL,
    problems        jsonb NOT NULL          -- the first problems found (at most 100)
);

-- A session is a random token given to a browser as a cookie; only its SHA-256 is stored. It acts
-- with the operator key it was opened with, and ends when that key is deleted.
CREATE TABLE dashboard_sessions (
    token_hash text PRIMARY KEY,
    key_hash   text NOT NULL REFERENCES api_keys (key_hash) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL
);

CREATE INDEX dashboard_sessions_expires_at ON dashboard_sessions (expires_at);
