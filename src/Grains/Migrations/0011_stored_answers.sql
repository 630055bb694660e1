-- An idempotent request's stored answer is its outcome and body, not an HTTP status and problem:
-- 'created' and 'done' keep the result's JSON; 'refused' keeps the failure (code, detail and its
-- extension members, in their order), which the API renders as a problem the same way the first
-- time and on every replay, so a refusal stored before this replays as the same bytes.
--
-- Keys are kept for good, so the table is large: the column comes with a default (no rewrite), and
-- only the rows that are not creations are updated.
ALTER TABLE idempotency_keys ADD COLUMN outcome text NOT NULL DEFAULT 'created';

UPDATE idempotency_keys SET outcome = 'done' WHERE status_code < 400 AND status_code <> 201;

UPDATE idempotency_keys k
SET outcome = 'refused',
    response_body = (SELECT json_object_agg(e.key, e.value ORDER BY e.n)::text
                     FROM json_each(k.response_body::json) WITH ORDINALITY AS e(key, value, n)
                     WHERE e.key NOT IN ('type', 'title', 'status'))
WHERE status_code >= 400;

ALTER TABLE idempotency_keys
    ALTER COLUMN outcome DROP DEFAULT,
    ADD CONSTRAINT idempotency_keys_outcome CHECK (outcome IN ('created', 'done', 'refused')),
    DROP COLUMN status_code;

ALTER TABLE idempotency_keys RENAME COLUMN response_body TO body;
