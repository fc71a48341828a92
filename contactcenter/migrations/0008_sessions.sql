-- Stored, revocable sessions (contactcenter/sessions.py): a login or an admin-issued
-- wallboard screen. Access tokens name the session (sid) and live minutes; the refresh
-- token (kept here only as its SHA-256) renews them until expires_at. Revoking a session,
-- disabling its user or changing the user's password ends it everywhere at once.
CREATE TABLE sessions (
    id             text PRIMARY KEY,
    user_id        text NOT NULL,
    role           text NOT NULL CHECK (role IN ('agent', 'supervisor', 'admin', 'wallboard')),
    kind           text NOT NULL CHECK (kind IN ('login', 'wallboard')),
    label          text NOT NULL DEFAULT '' CHECK (length(label) <= 200),
    refresh_hash   bytea,
    -- the refresh token spent last: presented again, it was copied, and the session ends
    spent_hash     bytea,
    created_by     text,
    address        text,
    user_agent     text CHECK (length(user_agent) <= 300),
    created_at     timestamptz NOT NULL DEFAULT now(),
    last_used_at   timestamptz NOT NULL DEFAULT now(),
    expires_at     timestamptz NOT NULL,
    revoked_at     timestamptz,
    revoked_reason text
);
CREATE INDEX sessions_user_idx ON sessions (user_id) WHERE revoked_at IS NULL;
CREATE UNIQUE INDEX sessions_refresh_idx ON sessions (refresh_hash) WHERE refresh_hash IS NOT NULL;
CREATE INDEX sessions_spent_idx ON sessions (spent_hash) WHERE spent_hash IS NOT NULL;

-- Tokens of a user issued before this moment are refused (set by a password change or a
-- disable, together with revoking the user's sessions).
ALTER TABLE users ADD COLUMN tokens_valid_after timestamptz;
