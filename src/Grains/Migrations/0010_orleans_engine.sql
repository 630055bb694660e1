-- The engine is Orleans now: its ADO.NET clustering (0007) replaces the home-made membership, and
-- the operators' cards page reads decisions from the database, cluster-wide.
DROP TABLE cluster_silos;
DROP TABLE cluster_versions;

-- The stable names of the fraud rules that fired (max_amount, velocity, ...), beside the prose reasons.
ALTER TABLE card_authorizations ADD COLUMN fraud_rules jsonb NOT NULL DEFAULT '[]';

-- The cards page reads the last ten minutes of decisions.
CREATE INDEX card_authorizations_created ON card_authorizations (created_at);
