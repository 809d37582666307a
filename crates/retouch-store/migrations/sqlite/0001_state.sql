-- Gateway state: gateway keys (hashed), virtual keys (encrypted), saved configs, usage.
-- Times are unix milliseconds. Keep in step with ../postgres/0001_state.sql.

CREATE TABLE gateway_keys (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    prefix      TEXT NOT NULL,           -- first characters of the key, for display only
    hash        BLOB NOT NULL UNIQUE,    -- SHA-256 of the whole key; the key itself is never stored
    created_at  BIGINT NOT NULL,
    revoked_at  BIGINT
);

CREATE TABLE virtual_keys (
    id          TEXT PRIMARY KEY,        -- the slug sent in x-portkey-virtual-key
    provider    TEXT NOT NULL,
    nonce       BLOB NOT NULL,           -- 96-bit AES-GCM nonce, random per record
    ciphertext  BLOB NOT NULL,           -- AES-256-GCM(provider secret), AAD binds id and provider
    created_at  BIGINT NOT NULL
);

CREATE TABLE configs (
    id          TEXT PRIMARY KEY,        -- the pc-… id sent in x-portkey-config
    body        TEXT NOT NULL,           -- the config JSON as saved
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);

CREATE TABLE usage_records (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    request_id  TEXT NOT NULL,
    at          BIGINT NOT NULL,
    provider    TEXT NOT NULL,
    model       TEXT NOT NULL,
    n           BIGINT NOT NULL,
    status      BIGINT NOT NULL,
    latency_ms  BIGINT NOT NULL,
    bytes_in    BIGINT NOT NULL,
    bytes_out   BIGINT NOT NULL,
    key_id      TEXT
);
CREATE INDEX usage_records_at ON usage_records (at);
CREATE INDEX usage_records_key_at ON usage_records (key_id, at);
