-- Outbound calls (click-to-dial) end with outcomes of their own: the callee was busy, did
-- not answer, the number was invalid, the call failed, or the agent hung up while it rang.
ALTER TABLE interactions DROP CONSTRAINT IF EXISTS interactions_outcome_check;
ALTER TABLE interactions ADD CONSTRAINT interactions_outcome_check
    CHECK (outcome IN ('handled', 'abandoned', 'flowed_out', 'unanswered', 'ended_in_ivr',
                       'busy', 'no_answer', 'invalid_number', 'failed', 'cancelled'));
