-- The review queue lists what holds money back: screenings of owners and counterparties with a hit
-- and no decision. A name screened on its own (POST /v1/compliance/screenings) holds nothing back
-- and is not queued, yet the index the queue read (screenings_open) kept each such hit nobody
-- resolved, and grew with them. The queue's index now holds exactly the rows the queue reads.
CREATE INDEX screenings_review ON screenings (tenant_id, id) WHERE status <> 'clear' AND decision IS NULL AND subject <> 'name';
DROP INDEX screenings_open;
