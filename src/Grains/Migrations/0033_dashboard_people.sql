-- A dashboard session is opened by an operator API key, as before, or by an operator who signed in
-- with their email and password (and second factor). A person's session ends when they are no
-- longer an active operator; it goes with them if they are removed.
ALTER TABLE dashboard_sessions
    ALTER COLUMN key_hash DROP NOT NULL,
    ADD COLUMN user_id text REFERENCES users (id) ON DELETE CASCADE,
    ADD CONSTRAINT dashboard_sessions_one_holder CHECK ((key_hash IS NULL) <> (user_id IS NULL));
