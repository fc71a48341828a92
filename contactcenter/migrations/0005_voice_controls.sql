-- An agent can transfer a call out to an external number (the agent console's voice
-- controls): the call log row ends with outcome 'transferred' (the number in
-- outcome_reason), a value the outcome check did not allow.
ALTER TABLE interactions DROP CONSTRAINT IF EXISTS interactions_outcome_check;
ALTER TABLE interactions ADD CONSTRAINT interactions_outcome_check
    CHECK (outcome IN ('handled', 'abandoned', 'flowed_out', 'unanswered', 'ended_in_ivr',
                       'busy', 'no_answer', 'invalid_number', 'failed', 'cancelled',
                       'transferred'));
