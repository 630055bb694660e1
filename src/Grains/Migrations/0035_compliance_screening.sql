-- Compliance screening. A tenant's watchlists are imported from CSV; importing a list under a name
-- it already has replaces that list whole. Each screening of a name is kept with what it found.
CREATE TABLE watchlists (
    id          text PRIMARY KEY,
    tenant_id   text NOT NULL,
    name        text NOT NULL,
    entries     integer NOT NULL,
    sha256      text NOT NULL,
    imported_at timestamptz NOT NULL,
    UNIQUE (tenant_id, name)
);

CREATE TABLE watchlist_entries (
    watchlist_id  text NOT NULL REFERENCES watchlists (id) ON DELETE CASCADE,
    line          integer NOT NULL,
    name          text NOT NULL,
    aliases       text[] NOT NULL,
    date_of_birth date,
    country       text,
    PRIMARY KEY (watchlist_id, line)
);

CREATE TABLE screenings (
    id            text PRIMARY KEY,
    tenant_id     text NOT NULL,
    name          text NOT NULL,
    country       text,
    date_of_birth date,
    status        text NOT NULL CHECK (status IN ('clear', 'potential_match', 'match')),
    hits          jsonb NOT NULL,
    created_by    text NOT NULL,
    created_at    timestamptz NOT NULL
);

CREATE INDEX screenings_tenant ON screenings (tenant_id, id);
