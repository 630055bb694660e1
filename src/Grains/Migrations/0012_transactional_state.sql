-- Orleans transactions keep, for each transactional state of a grain, the committed state with the
-- sequence number of the last committed transaction, the protocol's metadata (commit records) and
-- the states prepared but not yet committed or aborted, each under its sequence number. etag is the
-- version every write checks and advances, so a stale writer (a second activation, a write after a
-- failure) changes nothing. state_key is the grain's id and the state's name.
CREATE TABLE transactional_states (
    state_key          text PRIMARY KEY,
    etag               bigint NOT NULL,
    committed_sequence bigint NOT NULL,
    committed_state    bytea NOT NULL,
    metadata           bytea NOT NULL,
    updated_at         timestamptz NOT NULL DEFAULT now()
);

-- time_stamp is the transaction's logical time in .NET ticks (UTC): Orleans compares it to the tick,
-- finer than timestamptz. States, metadata and transaction_manager are Orleans' own serialization
-- (the state's type declares what it keeps; participants are grain references).
CREATE TABLE transactional_prepares (
    state_key           text NOT NULL REFERENCES transactional_states ON DELETE CASCADE,
    sequence_id         bigint NOT NULL,
    transaction_id      text NOT NULL,
    time_stamp          bigint NOT NULL,
    transaction_manager bytea NOT NULL,
    state               bytea NOT NULL,
    PRIMARY KEY (state_key, sequence_id)
);
