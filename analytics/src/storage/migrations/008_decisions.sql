-- why: decisions need, per person, activity by day (days since an event, touches on a channel within N days, enrolment), clinical dates, the dialogue-plan stage and past decisions (frequency caps, contact budget) from aggregates; Attune's own `decision` and `stage_changed` events are not the patient's touches.

-- Touches per id, day, channel and event name (page views as `page`, screens as `screen`).
CREATE TABLE IF NOT EXISTS activity_days
(
    program  LowCardinality(String),
    actor_id String,
    day      Date,
    channel  LowCardinality(String),
    event    LowCardinality(String),
    times    SimpleAggregateFunction(sum, UInt64)
)
ENGINE = AggregatingMergeTree
ORDER BY (program, actor_id, day, channel, event);

CREATE MATERIALIZED VIEW IF NOT EXISTS activity_days_mv TO activity_days AS
SELECT program, if(user_id != '', user_id, anonymous_id) AS actor_id, toDate(ts) AS day, channel, if(type = 'track', event, type) AS event, toUInt64(1) AS times
FROM events
WHERE is_bot = 0 AND NOT (type = 'track' AND event IN ('decision', 'stage_changed'));

INSERT INTO activity_days
SELECT program, if(user_id != '', user_id, anonymous_id) AS actor_id, toDate(ts) AS day, channel, if(type = 'track', event, type) AS event, count()
FROM events
WHERE is_bot = 0 AND NOT (type = 'track' AND event IN ('decision', 'stage_changed'))
GROUP BY program, actor_id, day, channel, event;

-- Channel touches count the patient's touches only.
DROP VIEW IF EXISTS channel_touches_mv;

CREATE MATERIALIZED VIEW IF NOT EXISTS channel_touches_mv TO channel_touches AS
SELECT program, if(user_id != '', user_id, anonymous_id) AS actor_id, channel, toUInt64(1) AS touches, ts AS last_ts
FROM events
WHERE is_bot = 0 AND NOT (type = 'track' AND event IN ('decision', 'stage_changed'));

-- Decisions per id, day, rule, channel and outcome (shown, held_out, capped, suppressed …).
CREATE TABLE IF NOT EXISTS decision_days
(
    program  LowCardinality(String),
    actor_id String,
    day      Date,
    rule     LowCardinality(String),
    channel  LowCardinality(String),
    outcome  LowCardinality(String),
    times    SimpleAggregateFunction(sum, UInt64),
    last_ts  SimpleAggregateFunction(max, DateTime64(3, 'UTC'))
)
ENGINE = AggregatingMergeTree
ORDER BY (program, actor_id, day, rule, channel, outcome);

CREATE MATERIALIZED VIEW IF NOT EXISTS decision_days_mv TO decision_days AS
SELECT program, if(user_id != '', user_id, anonymous_id) AS actor_id, toDate(ts) AS day, JSONExtractString(properties, 'rule') AS rule, channel,
       JSONExtractString(properties, 'outcome') AS outcome, toUInt64(1) AS times, ts AS last_ts
FROM events
WHERE type = 'track' AND event = 'decision';

-- The dialogue-plan stage: the latest `stage_changed` per id.
CREATE TABLE IF NOT EXISTS stage_states
(
    program  LowCardinality(String),
    actor_id String,
    stage    LowCardinality(String),
    ts       DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(ts)
ORDER BY (program, actor_id);

CREATE MATERIALIZED VIEW IF NOT EXISTS stage_states_mv TO stage_states AS
SELECT program, if(user_id != '', user_id, anonymous_id) AS actor_id, JSONExtractString(properties, 'stage') AS stage, ts
FROM events
WHERE type = 'track' AND event = 'stage_changed' AND JSONExtractString(properties, 'stage') != '';

-- Clinical dates a patient's record carries (identify traits.dates: {"therapy_start": "2026-10-01", …}); the latest value per name.
CREATE TABLE IF NOT EXISTS patient_dates
(
    program  LowCardinality(String),
    actor_id String,
    name     LowCardinality(String),
    value    Date,
    ts       DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(ts)
ORDER BY (program, actor_id, name);

CREATE MATERIALIZED VIEW IF NOT EXISTS patient_dates_mv TO patient_dates AS
SELECT program, if(user_id != '', user_id, anonymous_id) AS actor_id, tupleElement(kv, 1) AS name, toDateOrZero(tupleElement(kv, 2)) AS value, ts
FROM events
ARRAY JOIN JSONExtractKeysAndValues(traits, 'dates', 'String') AS kv
WHERE type = 'identify' AND isNotNull(toDateOrNull(tupleElement(kv, 2)));
