-- An API key may hold any of a person's roles: a finance service reconciles, a support tool freezes.
ALTER TABLE api_keys DROP CONSTRAINT api_keys_role_check;
ALTER TABLE api_keys ADD CONSTRAINT api_keys_role_check CHECK (role IN ('operator', 'finance', 'support', 'client'));
