-- Raises when a condition the writer relies on does not hold, aborting the transaction. Lets a
-- batch check a guard inside the same round trip that commits it.
CREATE FUNCTION ledger_assert(condition boolean, message text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF NOT condition THEN
        RAISE EXCEPTION '%', message USING ERRCODE = 'check_violation';
    END IF;
END $$;
