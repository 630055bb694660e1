-- Orleans' ADO.NET providers (Invariant "Npgsql") keep no SQL of their own: at start they run
-- SELECT QueryKey, QueryText FROM OrleansQuery, which PostgreSQL folds to the names below, and then
-- send those texts with @Name parameters. Every query text here is ours, so the tables are too.
-- Aliases are quoted because the providers read columns by their exact names.
CREATE TABLE orleansquery (
    querykey  text PRIMARY KEY,
    querytext text NOT NULL
);

-- Cluster membership (Microsoft.Orleans.Clustering.AdoNet). One version row per cluster is the
-- compare-and-swap point: every insert or status change of a silo row must move it from the version
-- the caller read to the next one, or change nothing. The provider handles the version as an int.
CREATE TABLE orleans_membership_version (
    deployment_id text PRIMARY KEY,
    version       integer NOT NULL DEFAULT 0,
    changed_at    timestamptz NOT NULL DEFAULT now()
);

-- One row per silo incarnation (address, port, generation). status is Orleans' SiloStatus
-- (3 active, 6 dead); suspect_times is the provider's own "silo,date|silo,date" text.
CREATE TABLE orleans_membership (
    deployment_id   text NOT NULL REFERENCES orleans_membership_version (deployment_id) ON DELETE CASCADE,
    address         text NOT NULL,
    port            integer NOT NULL,
    generation      integer NOT NULL,
    silo_name       text NOT NULL,
    host_name       text NOT NULL,
    status          integer NOT NULL,
    proxy_port      integer NOT NULL,
    suspect_times   text,
    start_time      timestamptz NOT NULL,
    i_am_alive_time timestamptz NOT NULL,
    PRIMARY KEY (deployment_id, address, port, generation)
);

-- Each text is one statement, so Npgsql sends it as one command and it is atomic on its own.
-- The writes that must be compare-and-swaps lock the version row first and touch the silo row only
-- when the version matched; the version moves only when the silo row did. They answer with one
-- row and one boolean column, which the provider reads as success.
INSERT INTO orleansquery (querykey, querytext) VALUES
('InsertMembershipVersionKey', $$
WITH created AS (
    INSERT INTO orleans_membership_version (deployment_id) VALUES (@DeploymentId)
    ON CONFLICT (deployment_id) DO NOTHING
    RETURNING 1)
SELECT count(*) = 1 FROM created
$$),

('InsertMembershipKey', $$
WITH expected AS (
    SELECT deployment_id FROM orleans_membership_version
    WHERE deployment_id = @DeploymentId AND version = @Version
    FOR UPDATE),
joined AS (
    INSERT INTO orleans_membership (deployment_id, address, port, generation, silo_name, host_name,
                                    status, proxy_port, suspect_times, start_time, i_am_alive_time)
    SELECT deployment_id, @Address, @Port, @Generation, @SiloName, @HostName,
           @Status, @ProxyPort, NULL, @StartTime, @IAmAliveTime
    FROM expected
    ON CONFLICT (deployment_id, address, port, generation) DO NOTHING
    RETURNING deployment_id),
bumped AS (
    UPDATE orleans_membership_version v SET version = v.version + 1, changed_at = now()
    FROM joined WHERE v.deployment_id = joined.deployment_id
    RETURNING 1)
SELECT count(*) = 1 FROM bumped
$$),

-- Another silo may write this row from a copy read before the owner's last heartbeat: keep the
-- later heartbeat rather than move it back.
('UpdateMembershipKey', $$
WITH expected AS (
    SELECT deployment_id FROM orleans_membership_version
    WHERE deployment_id = @DeploymentId AND version = @Version
    FOR UPDATE),
changed AS (
    UPDATE orleans_membership m
    SET status = @Status,
        suspect_times = @SuspectTimes,
        i_am_alive_time = greatest(m.i_am_alive_time, @IAmAliveTime)
    FROM expected
    WHERE m.deployment_id = expected.deployment_id
      AND m.address = @Address AND m.port = @Port AND m.generation = @Generation
    RETURNING m.deployment_id),
bumped AS (
    UPDATE orleans_membership_version v SET version = v.version + 1, changed_at = now()
    FROM changed WHERE v.deployment_id = changed.deployment_id
    RETURNING 1)
SELECT count(*) = 1 FROM bumped
$$),

-- The heartbeat: the silo's own row only, never the version, so it cannot fail anyone's swap.
('UpdateIAmAlivetimeKey', $$
UPDATE orleans_membership SET i_am_alive_time = @IAmAliveTime
WHERE deployment_id = @DeploymentId AND address = @Address AND port = @Port AND generation = @Generation
$$),

-- Reads start from the version row so that an empty cluster still answers one row (its version),
-- with NULL silo columns; the provider fails on no rows at all.
('MembershipReadRowKey', $$
SELECT v.version AS "Version", m.address AS "Address", m.port AS "Port", m.generation AS "Generation",
       m.silo_name AS "SiloName", m.host_name AS "HostName", m.status AS "Status",
       m.proxy_port AS "ProxyPort", m.suspect_times AS "SuspectTimes",
       m.start_time AS "StartTime", m.i_am_alive_time AS "IAmAliveTime"
FROM orleans_membership_version v
LEFT JOIN orleans_membership m
       ON m.deployment_id = v.deployment_id
      AND m.address = @Address AND m.port = @Port AND m.generation = @Generation
WHERE v.deployment_id = @DeploymentId
$$),

('MembershipReadAllKey', $$
SELECT v.version AS "Version", m.address AS "Address", m.port AS "Port", m.generation AS "Generation",
       m.silo_name AS "SiloName", m.host_name AS "HostName", m.status AS "Status",
       m.proxy_port AS "ProxyPort", m.suspect_times AS "SuspectTimes",
       m.start_time AS "StartTime", m.i_am_alive_time AS "IAmAliveTime"
FROM orleans_membership_version v
LEFT JOIN orleans_membership m ON m.deployment_id = v.deployment_id
WHERE v.deployment_id = @DeploymentId
$$),

-- What clients connect to: active silos that listen for clients. @Status is always 3 (active).
('GatewaysQueryKey', $$
SELECT address AS "Address", proxy_port AS "ProxyPort", generation AS "Generation"
FROM orleans_membership
WHERE deployment_id = @DeploymentId AND status = @Status AND proxy_port > 0
$$),

-- Silo rows go with their version row (ON DELETE CASCADE).
('DeleteMembershipTableEntriesKey', $$
DELETE FROM orleans_membership_version WHERE deployment_id = @DeploymentId
$$),

-- Dead silos not heard of since the cutoff. Removing dead rows changes no one's view of the
-- cluster, so the version stays. Only used when the key below is missing.
('CleanupDefunctSiloEntriesKey', $$
DELETE FROM orleans_membership
WHERE deployment_id = @DeploymentId AND status = 6
  AND i_am_alive_time < @IAmAliveTime AND start_time < @IAmAliveTime
$$),

-- Optional; when present the provider reads all rows, picks the dead ones to drop itself and deletes
-- each only if it is still exactly as read, so a row that changed meanwhile stays.
('CleanupDefunctSiloEntryKey', $$
DELETE FROM orleans_membership
WHERE deployment_id = @DeploymentId AND status = 6
  AND address = @Address AND port = @Port AND generation = @Generation
  AND start_time = @StartTime AND i_am_alive_time = @IAmAliveTime
  AND coalesce(suspect_times, '') = coalesce(@SuspectTimes, '')
$$);
