-- Web chat and the post-contact survey (issue 5).
-- The survey answers live on the interaction row, folded from the 'ivr.survey' event by
-- the call-log projection (store/interactions.py), so a rebuild from the log keeps them.
ALTER TABLE interactions ADD COLUMN csat smallint CHECK (csat BETWEEN 1 AND 5);
ALTER TABLE interactions ADD COLUMN resolved boolean;
CREATE INDEX interactions_survey_idx ON interactions (queue_id)
    WHERE csat IS NOT NULL OR resolved IS NOT NULL;

-- Chat transcripts: every line of a chat, visitor, bot and agent, in order. Written
-- before the line is relayed to the other side (store/transcripts.py). No foreign key to
-- interactions: the row is a projection that may be rebuilt (truncated) at any time.
CREATE TABLE chat_transcripts (
    contact_id text NOT NULL,
    seq        integer NOT NULL CHECK (seq > 0),
    ts         timestamptz NOT NULL,
    sender     text NOT NULL CHECK (sender IN ('visitor', 'bot', 'agent', 'system')),
    agent_id   text,
    text       text NOT NULL,
    PRIMARY KEY (contact_id, seq)
);
