-- No query looks postings up by entry: history reads a wallet's postings by the primary key
-- (wallet_id, entry_seq), and verify scans whole tables. The index only cost two inserts per transfer.
DROP INDEX IF EXISTS postings_entry_seq;
