-- Outbound campaigns (issue 7, docs/dialer.md "Server runner"): the campaign, its contact
-- list, one row per dial attempt (the idempotency key), the do-not-call list, and the
-- abandon ledger's inputs (a view over the attempts: nothing to keep in step).

CREATE TABLE campaigns (
    id              text PRIMARY KEY CHECK (id ~ '^[a-z0-9][a-z0-9_-]{0,31}$'),
    name            text NOT NULL,
    queue_id        text NOT NULL,
    skills          jsonb NOT NULL DEFAULT '{}',
    mode            text NOT NULL
        CHECK (mode IN ('preview', 'progressive', 'power', 'predictive')),
    ratio           double precision NOT NULL DEFAULT 1.0,
    max_lines       integer,
    abandon_target  double precision NOT NULL DEFAULT 0.02,
    regulatory_mode text NOT NULL DEFAULT 'us' CHECK (regulatory_mode IN ('us', 'uk')),
    window_start    text NOT NULL DEFAULT '08:00',
    window_end      text NOT NULL DEFAULT '21:00',
    retry           jsonb NOT NULL DEFAULT '{}',
    ring_timeout_s  double precision NOT NULL DEFAULT 26,
    identification_message text NOT NULL DEFAULT 'identification',
    amd_false_positive_rate double precision NOT NULL DEFAULT 0,
    state           text NOT NULL DEFAULT 'draft'
        CHECK (state IN ('draft', 'running', 'paused', 'stopped')),
    -- the first start: the abandon ledger's windows are counted from here
    started_at      double precision,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE campaign_contacts (
    id              bigserial PRIMARY KEY,
    campaign_id     text NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    line_no         integer NOT NULL,
    number          text NOT NULL,            -- normalised E.164
    name            text,
    timezone        text,
    country         text,
    customer_id     text,
    attributes      jsonb NOT NULL DEFAULT '{}',
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at double precision,         -- POSIX seconds; NULL: due now
    locked_until    double precision,         -- UK lockouts, apart from retries
    last_outcome    text,
    final           boolean NOT NULL DEFAULT false,
    created_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (campaign_id, number)
);
CREATE INDEX campaign_contacts_due
    ON campaign_contacts (campaign_id, next_attempt_at, id) WHERE NOT final;

CREATE TABLE dial_attempts (
    call_id         text PRIMARY KEY,         -- cmp-<campaign>-<row>-<attempt>
    campaign_id     text NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    contact_row_id  bigint NOT NULL REFERENCES campaign_contacts (id) ON DELETE CASCADE,
    attempt         integer NOT NULL CHECK (attempt >= 1),
    number          text NOT NULL,
    state           text NOT NULL DEFAULT 'placed'
        CHECK (state IN ('placed', 'answered', 'connected', 'abandoned', 'busy', 'no_answer',
                         'machine', 'failed', 'invalid_number', 'lost')),
    placed_at       double precision NOT NULL,
    outcome_at      double precision,
    answered_at     double precision,         -- the answer (not the later AMD verdict)
    connected_at    double precision,
    agent_id        text,
    -- the idempotency key: committed before the originate is sent
    UNIQUE (campaign_id, contact_row_id, attempt)
);
CREATE INDEX dial_attempts_campaign ON dial_attempts (campaign_id, placed_at);

CREATE TABLE dnc_numbers (
    number          text PRIMARY KEY,         -- normalised E.164
    source          text NOT NULL DEFAULT 'api',
    added_at        timestamptz NOT NULL DEFAULT now()
);

-- The abandon ledger's inputs, one row per live answer, abandon and machine verdict.
CREATE VIEW campaign_ledger AS
    SELECT campaign_id, 'live' AS kind, answered_at AS at, call_id
      FROM dial_attempts WHERE answered_at IS NOT NULL
    UNION ALL
    SELECT campaign_id, 'abandon', answered_at, call_id
      FROM dial_attempts WHERE state = 'abandoned'
    UNION ALL
    SELECT campaign_id, 'machine', outcome_at, call_id
      FROM dial_attempts WHERE state = 'machine';
