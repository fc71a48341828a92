-- 0001: users and agent profiles, the CRM (customers and their phone numbers),
-- the event log and the interaction log (call detail records) derived from it.

-- True when m is a JSON object whose keys are non-empty and whose values are whole
-- numbers within [lo, hi]; used for agent skills {skill: proficiency} and capacity
-- {channel: concurrent contacts}.
CREATE FUNCTION cc_is_int_map(m jsonb, lo integer, hi integer) RETURNS boolean
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT jsonb_typeof(m) = 'object' AND NOT EXISTS (
        SELECT 1
        FROM jsonb_each(m) AS e(k, v)
        WHERE k = ''
           OR CASE WHEN jsonb_typeof(v) = 'number'
                   THEN (v #>> '{}')::numeric <> trunc((v #>> '{}')::numeric)
                        OR (v #>> '{}')::numeric NOT BETWEEN lo AND hi
                   ELSE true
              END
    )
$$;

CREATE TABLE users (
    id            text PRIMARY KEY CHECK (id ~ '^[A-Za-z0-9_.:@-]{1,64}$'),
    username      text NOT NULL CHECK (username ~ '^[A-Za-z0-9_.@-]{1,64}$'),
    display_name  text NOT NULL DEFAULT '' CHECK (length(display_name) <= 200),
    password_hash text NOT NULL,
    role          text NOT NULL CHECK (role IN ('agent', 'supervisor', 'admin')),
    disabled      boolean NOT NULL DEFAULT false,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);
-- "Alice" and "alice" are the same login
CREATE UNIQUE INDEX users_username_key ON users (lower(username));

CREATE TABLE agents (
    agent_id   text PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    team       text CHECK (team <> ''),
    skills     jsonb NOT NULL DEFAULT '{}' CHECK (cc_is_int_map(skills, 1, 10)),
    capacity   jsonb NOT NULL DEFAULT '{"voice": 1}' CHECK (cc_is_int_map(capacity, 0, 100)),
    -- the phone or softphone the telephony gateway bridges this agent's calls to
    extension  text UNIQUE CHECK (extension <> ''),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX agents_team_idx ON agents (team);
-- "who has skill X": skills ? 'billing'
CREATE INDEX agents_skills_idx ON agents USING gin (skills);

CREATE TABLE customers (
    id             text PRIMARY KEY CHECK (id ~ '^[A-Za-z0-9_.:@-]{1,64}$'),
    account_number text UNIQUE CHECK (account_number <> ''),
    name           text NOT NULL CHECK (length(name) <= 200),
    tier           text CHECK (tier <> ''),
    value_segment  text CHECK (value_segment <> ''),
    attributes     jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(attributes) = 'object'),
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now()
);

-- A separate table rather than a phones array: the screen pop looks a caller up by the
-- exact number (ANI) with a plain b-tree probe, and one number may be shared by several
-- customers (a household, a switchboard), so the lookup may find more than one.
CREATE TABLE customer_phones (
    -- normalized: digits with an optional leading '+' (see store/customers.py)
    phone       text NOT NULL CHECK (phone ~ '^\+?[0-9]{3,20}$'),
    customer_id text NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    -- the last 9 digits: matches "+1 415 555 0100" with "415-555-0100" when the two were
    -- written with and without a country code
    phone_tail  text NOT NULL GENERATED ALWAYS AS (right(phone, 9)) STORED,
    position    smallint NOT NULL DEFAULT 0,
    PRIMARY KEY (phone, customer_id)
);
CREATE INDEX customer_phones_customer_idx ON customer_phones (customer_id, position);
CREATE INDEX customer_phones_tail_idx ON customer_phones (phone_tail);

-- The event log: append-only, in commit order. Everything else that describes contacts
-- (interactions, statistics, live state after a restart) can be rebuilt from it.
CREATE TABLE events (
    seq        bigserial PRIMARY KEY,
    ts         timestamptz NOT NULL,
    type       text NOT NULL CHECK (type <> ''),
    contact_id text,
    agent_id   text,
    queue_id   text,
    data       jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(data) = 'object'),
    -- the server process that wrote it
    node       text NOT NULL DEFAULT '',
    written_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX events_contact_idx ON events (contact_id, seq) WHERE contact_id IS NOT NULL;
CREATE INDEX events_agent_idx ON events (agent_id, seq) WHERE agent_id IS NOT NULL;
CREATE INDEX events_ts_idx ON events (ts);

-- The call log / CDR: one row per contact, derived from the events in the same
-- transaction that appends them (store/interactions.py), never written on its own.
-- No foreign keys to customers or users on purpose: a projection must never make the
-- event log reject an event, and the log keeps ids of rows that may later be deleted.
CREATE TABLE interactions (
    contact_id      text PRIMARY KEY,
    channel         text,
    direction       text CHECK (direction IN ('inbound', 'outbound', 'internal')),
    ani             text,
    dnis            text,
    customer_id     text,
    queue_id        text,
    agent_id        text,           -- the agent who has (or last had) the contact
    priority        integer,
    started_at      timestamptz NOT NULL,   -- time of its first event
    arrived_at      timestamptz,
    queued_at       timestamptz,
    offered_at      timestamptz,    -- the latest offer
    answered_at     timestamptz,    -- the first answer
    ended_at        timestamptz,
    wrapup_ended_at timestamptz,
    wait_s          double precision CHECK (wait_s >= 0),
    hold_s          double precision NOT NULL DEFAULT 0 CHECK (hold_s >= 0),
    talk_s          double precision CHECK (talk_s >= 0),
    wrapup_s        double precision CHECK (wrapup_s >= 0),
    offers          integer NOT NULL DEFAULT 0 CHECK (offers >= 0),
    transfers       integer NOT NULL DEFAULT 0 CHECK (transfers >= 0),
    outcome         text CHECK (outcome IN ('handled', 'abandoned', 'flowed_out',
                                            'unanswered', 'ended_in_ivr')),
    outcome_reason  text,
    disposition     text,
    notes           text,
    ivr_path        jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(ivr_path) = 'array'),
    attached        jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(attached) = 'object'),
    -- projection state: the open hold and the current agent segment (after a transfer
    -- the next agent's talk and hold are measured from its own answer)
    held_since          timestamptz,
    segment_answered_at timestamptz,
    segment_hold_s      double precision NOT NULL DEFAULT 0,
    -- the seq of the last event folded in: re-applying older events is a no-op
    last_seq        bigint NOT NULL,
    updated_at      timestamptz NOT NULL DEFAULT now()
);
-- customer history for the screen pop: the last N contacts of a customer
CREATE INDEX interactions_customer_idx ON interactions (customer_id, started_at DESC)
    WHERE customer_id IS NOT NULL;
CREATE INDEX interactions_agent_idx ON interactions (agent_id, started_at DESC)
    WHERE agent_id IS NOT NULL;
CREATE INDEX interactions_queue_idx ON interactions (queue_id, started_at);
CREATE INDEX interactions_started_idx ON interactions (started_at);
