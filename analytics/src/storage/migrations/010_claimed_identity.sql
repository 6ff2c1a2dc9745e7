-- why: a browser becomes a patient only by proof (an identity token or a click token); a write-key message that names a user id without it is kept as the anonymous id's analytics, with the id it claimed and why it was not taken recorded apart, never used to link, count or decide.
ALTER TABLE events
    ADD COLUMN IF NOT EXISTS claimed_user_id String,
    ADD COLUMN IF NOT EXISTS identity_status LowCardinality(String);
