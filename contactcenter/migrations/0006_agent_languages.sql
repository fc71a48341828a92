-- Languages an agent speaks, for routing steps such as
-- "contact.data.language in agent.languages" (the IVR attaches the caller's language).
ALTER TABLE agents
    ADD COLUMN languages text[] NOT NULL DEFAULT '{}'
        CHECK (cardinality(languages) <= 20);
