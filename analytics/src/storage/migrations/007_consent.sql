-- why: a profile says what the patient consented to, per channel and purpose, from `consent_updated` events (the latest record per scope wins), so decisions and deliveries can check it without scanning events.
CREATE TABLE IF NOT EXISTS consent_states
(
    program  LowCardinality(String),
    actor_id String,
    scope    LowCardinality(String),
    granted  UInt8,
    ts       DateTime64(3, 'UTC'),
    key_id   LowCardinality(String)
)
ENGINE = ReplacingMergeTree(ts)
ORDER BY (program, actor_id, scope);

CREATE MATERIALIZED VIEW IF NOT EXISTS consent_states_mv TO consent_states AS
SELECT program, if(user_id != '', user_id, anonymous_id) AS actor_id, tupleElement(kv, 1) AS scope, tupleElement(kv, 2) AS granted, ts, key_id
FROM events
ARRAY JOIN JSONExtractKeysAndValues(properties, 'consent', 'Bool') AS kv
WHERE event = 'consent_updated';

INSERT INTO consent_states
SELECT program, if(user_id != '', user_id, anonymous_id) AS actor_id, tupleElement(kv, 1) AS scope, tupleElement(kv, 2) AS granted, ts, key_id
FROM events
ARRAY JOIN JSONExtractKeysAndValues(properties, 'consent', 'Bool') AS kv
WHERE event = 'consent_updated';
