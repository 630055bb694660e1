-- Custom assets a tenant declares (POST /v1/assets): gold by the gram, loyalty points. An asset is
-- never changed once declared: its scale is how every amount of it already written is read, so
-- the grains may keep one they have found for good.
CREATE TABLE assets (
    tenant_id  text NOT NULL,
    code       text NOT NULL,
    scale      integer NOT NULL CHECK (scale BETWEEN 0 AND 8),
    name       text,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, code)
);
