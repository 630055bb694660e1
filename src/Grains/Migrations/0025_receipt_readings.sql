-- Each reading of a receipt takes the next number: its outcome is written only while the receipt
-- is still in that reading (a retry, or another reading meanwhile, makes it stale). Never reset.
ALTER TABLE receipts ADD COLUMN reading integer NOT NULL DEFAULT 0;

-- The receipts left processing with nothing touching them (a reading that was never started),
-- which every silo looks for once a Receipts:RetryPeriod.
CREATE INDEX receipts_processing ON receipts (updated_at) WHERE status = 'processing';
