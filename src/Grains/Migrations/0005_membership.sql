-- Cluster membership, after Orleans' ADO.NET clustering: one version row per cluster is the
-- compare-and-swap point of every status change; heartbeats touch only the silo's own row.
CREATE TABLE cluster_versions (
    cluster_id text PRIMARY KEY,
    version    bigint NOT NULL DEFAULT 0,
    changed_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE cluster_silos (
    cluster_id   text NOT NULL REFERENCES cluster_versions (cluster_id),
    endpoint     text NOT NULL,
    generation   bigint NOT NULL,
    status       text NOT NULL CHECK (status IN ('active', 'leaving', 'dead')),
    host_name    text NOT NULL,
    started_at   timestamptz NOT NULL,
    heartbeat_at timestamptz NOT NULL,
    PRIMARY KEY (cluster_id, endpoint, generation)
);
