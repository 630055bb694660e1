-- An idempotent request's stored answer is its outcome and body, not an HTTP status and problem:
-- 'created' and 'done' keep the result's JSON; 'refused' keeps the failure (code, detail and its
-- extension members), which the API renders as a problem the same way the first time and on replay.
-- A refusal stored before this keeps its members; only their order in a replayed problem may change.
ALTER TABLE idempotency_keys ADD COLUMN outcome text;

UPDATE idempotency_keys
SET outcome = CASE WHEN status_code = 201 THEN 'created' WHEN status_code < 400 THEN 'done' ELSE 'refused' END,
    response_body = CASE WHEN status_code >= 400
                         THEN (response_body::jsonb - 'type' - 'title' - 'status')::text
                         ELSE response_body END;

ALTER TABLE idempotency_keys
    ALTER COLUMN outcome SET NOT NULL,
    ADD CONSTRAINT idempotency_keys_outcome CHECK (outcome IN ('created', 'done', 'refused')),
    DROP COLUMN status_code;

ALTER TABLE idempotency_keys RENAME COLUMN response_body TO body;
