-- Grain state (Microsoft.Orleans.Persistence.AdoNet), not used yet; its queries live in orleansquery
-- like the others. The provider names a grain by service, grain type and key: a guid or integer key
-- in grain_id_n0/n1 plus an optional string extension, or a string key alone in the extension. The
-- two hashes are what it computes from them, kept to keep the lookup index narrow at the front.
-- version is the state's ETag; a cleared state keeps its row with no payload so its version goes on.
CREATE TABLE orleans_storage (
    grain_id_hash      integer NOT NULL,
    grain_type_hash    integer NOT NULL,
    grain_id_n0        bigint NOT NULL,
    grain_id_n1        bigint NOT NULL,
    service_id         text NOT NULL,
    grain_type         text NOT NULL,
    grain_id_extension text,
    payload            bytea,
    version            integer NOT NULL,
    modified_at        timestamptz NOT NULL DEFAULT now()
);

-- One row per grain, also when two activations write their first state at once. A missing
-- extension is a value of its own here, not "unknown".
CREATE UNIQUE INDEX orleans_storage_grain ON orleans_storage
    (grain_id_hash, grain_type_hash, grain_id_n0, grain_id_n1, service_id, grain_type, grain_id_extension)
    NULLS NOT DISTINCT;

-- The provider reads the first column of the write, clear and delete answers as the new ETag and
-- treats NULL (or the ETag it sent) as a version conflict, so each answers exactly one row: the new
-- version, or NULL when nothing matched. A first write comes with @GrainStateVersion NULL.
INSERT INTO orleansquery (querykey, querytext) VALUES
('ReadFromStorageKey', $$
SELECT payload AS "PayloadBinary", version AS "Version"
FROM orleans_storage
WHERE grain_id_hash = @GrainIdHash AND grain_type_hash = @GrainTypeHash
  AND grain_id_n0 = @GrainIdN0 AND grain_id_n1 = @GrainIdN1
  AND service_id = @ServiceId AND grain_type = @GrainTypeString
  AND grain_id_extension IS NOT DISTINCT FROM @GrainIdExtensionString
$$),

('WriteToStorageKey', $$
WITH created AS (
    INSERT INTO orleans_storage (grain_id_hash, grain_type_hash, grain_id_n0, grain_id_n1, service_id,
                                 grain_type, grain_id_extension, payload, version)
    SELECT @GrainIdHash, @GrainTypeHash, @GrainIdN0, @GrainIdN1, @ServiceId,
           @GrainTypeString, @GrainIdExtensionString, @PayloadBinary, 1
    WHERE @GrainStateVersion IS NULL
    ON CONFLICT (grain_id_hash, grain_type_hash, grain_id_n0, grain_id_n1, service_id, grain_type, grain_id_extension)
    DO NOTHING
    RETURNING version),
replaced AS (
    UPDATE orleans_storage SET payload = @PayloadBinary, version = version + 1, modified_at = now()
    WHERE grain_id_hash = @GrainIdHash AND grain_type_hash = @GrainTypeHash
      AND grain_id_n0 = @GrainIdN0 AND grain_id_n1 = @GrainIdN1
      AND service_id = @ServiceId AND grain_type = @GrainTypeString
      AND grain_id_extension IS NOT DISTINCT FROM @GrainIdExtensionString
      AND version = @GrainStateVersion
    RETURNING version)
SELECT (SELECT version FROM created UNION ALL SELECT version FROM replaced) AS "NewGrainStateVersion"
$$),

('ClearStorageKey', $$
WITH cleared AS (
    UPDATE orleans_storage SET payload = NULL, version = version + 1, modified_at = now()
    WHERE grain_id_hash = @GrainIdHash AND grain_type_hash = @GrainTypeHash
      AND grain_id_n0 = @GrainIdN0 AND grain_id_n1 = @GrainIdN1
      AND service_id = @ServiceId AND grain_type = @GrainTypeString
      AND grain_id_extension IS NOT DISTINCT FROM @GrainIdExtensionString
      AND version = @GrainStateVersion
    RETURNING version)
SELECT (SELECT version FROM cleared) AS "NewGrainStateVersion"
$$),

-- Optional, for DeleteStateOnClear: the row goes; the answer is still a version the caller does not
-- hold, so the provider sees success.
('DeleteStorageKey', $$
WITH deleted AS (
    DELETE FROM orleans_storage
    WHERE grain_id_hash = @GrainIdHash AND grain_type_hash = @GrainTypeHash
      AND grain_id_n0 = @GrainIdN0 AND grain_id_n1 = @GrainIdN1
      AND service_id = @ServiceId AND grain_type = @GrainTypeString
      AND grain_id_extension IS NOT DISTINCT FROM @GrainIdExtensionString
      AND version = @GrainStateVersion
    RETURNING version + 1 AS version)
SELECT (SELECT version FROM deleted) AS "NewGrainStateVersion"
$$);
