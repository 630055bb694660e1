-- Reminders (Microsoft.Orleans.Reminders.AdoNet), through the same orleansquery table as 0007.
-- grain_hash is the grain's uniform hash, a uint the provider sends cast to int, so the ring's order
-- is the signed order here. period is in milliseconds and can exceed an int. version is the ETag.
CREATE TABLE orleans_reminders (
    service_id    text NOT NULL,
    grain_id      text NOT NULL,
    reminder_name text NOT NULL,
    grain_hash    integer NOT NULL,
    start_time    timestamptz NOT NULL,
    period        bigint NOT NULL,
    version       integer NOT NULL,
    PRIMARY KEY (service_id, grain_id, reminder_name)
);

-- Each silo reads the reminders of its slice of the ring by hash.
CREATE INDEX orleans_reminders_hash ON orleans_reminders (service_id, grain_hash);

INSERT INTO orleansquery (querykey, querytext) VALUES
('ReadReminderRowsKey', $$
SELECT grain_id AS "GrainId", reminder_name AS "ReminderName", start_time AS "StartTime",
       period AS "Period", version AS "Version"
FROM orleans_reminders
WHERE service_id = @ServiceId AND grain_id = @GrainId
$$),

('ReadReminderRowKey', $$
SELECT grain_id AS "GrainId", reminder_name AS "ReminderName", start_time AS "StartTime",
       period AS "Period", version AS "Version"
FROM orleans_reminders
WHERE service_id = @ServiceId AND grain_id = @GrainId AND reminder_name = @ReminderName
$$),

-- The range is (begin, end]. The provider picks this text when begin < end as ints...
('ReadRangeRows1Key', $$
SELECT grain_id AS "GrainId", reminder_name AS "ReminderName", start_time AS "StartTime",
       period AS "Period", version AS "Version"
FROM orleans_reminders
WHERE service_id = @ServiceId AND grain_hash > @BeginHash AND grain_hash <= @EndHash
$$),

-- ...and this one otherwise: the range wraps past the top of the ring (begin = end is all of it).
('ReadRangeRows2Key', $$
SELECT grain_id AS "GrainId", reminder_name AS "ReminderName", start_time AS "StartTime",
       period AS "Period", version AS "Version"
FROM orleans_reminders
WHERE service_id = @ServiceId AND (grain_hash > @BeginHash OR grain_hash <= @EndHash)
$$),

-- Answers the row's new ETag. @Period arrives as int or bigint depending on its size.
('UpsertReminderRowKey', $$
INSERT INTO orleans_reminders AS r (service_id, grain_id, reminder_name, grain_hash, start_time, period, version)
VALUES (@ServiceId, @GrainId, @ReminderName, @GrainHash, @StartTime, @Period, 0)
ON CONFLICT (service_id, grain_id, reminder_name) DO UPDATE
SET grain_hash = excluded.grain_hash, start_time = excluded.start_time, period = excluded.period,
    version = r.version + 1
RETURNING r.version AS "Version"
$$),

-- Deletes only the version the caller holds; answers one boolean row, whether it did.
('DeleteReminderRowKey', $$
WITH deleted AS (
    DELETE FROM orleans_reminders
    WHERE service_id = @ServiceId AND grain_id = @GrainId AND reminder_name = @ReminderName
      AND version = @Version
    RETURNING 1)
SELECT count(*) = 1 FROM deleted
$$),

('DeleteReminderRowsKey', $$
DELETE FROM orleans_reminders WHERE service_id = @ServiceId
$$);
