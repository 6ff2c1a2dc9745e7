-- why: profiles (needs, identity, channels) kept incrementally by materialized views, so a profile reads a few aggregate rows instead of a person's history.
ALTER TABLE events
    ADD COLUMN IF NOT EXISTS content_ids  Array(String) CODEC(ZSTD(1)),
    ADD COLUMN IF NOT EXISTS need_ids     Array(LowCardinality(String)),
    ADD COLUMN IF NOT EXISTS need_weights Array(Float32);

-- Inferred needs: the need weights of the content each id's touches showed, summed per day.
-- Decay by age uses the program's half-life at read time, so changing it applies to history.
CREATE TABLE IF NOT EXISTS need_day_weights
(
    program  LowCardinality(String),
    actor_id String,
    need     LowCardinality(String),
    day      Date,
    weight   Float64,
    touches  UInt64
)
ENGINE = SummingMergeTree((weight, touches))
ORDER BY (program, actor_id, need, day);

CREATE MATERIALIZED VIEW IF NOT EXISTS need_day_weights_mv TO need_day_weights AS
SELECT program, if(user_id != '', user_id, anonymous_id) AS actor_id, need, toDate(ts) AS day, toFloat64(weight) AS weight, toUInt64(1) AS touches
FROM events
ARRAY JOIN need_ids AS need, need_weights AS weight
WHERE is_bot = 0;

-- Identity: every anonymous id (or alias's previous id) seen together with a patient id.
CREATE TABLE IF NOT EXISTS identity_links
(
    program      LowCardinality(String),
    user_id      String,
    anonymous_id String,
    first_ts     SimpleAggregateFunction(min, DateTime64(3, 'UTC')),
    last_ts      SimpleAggregateFunction(max, DateTime64(3, 'UTC'))
)
ENGINE = AggregatingMergeTree
ORDER BY (program, user_id, anonymous_id);

CREATE MATERIALIZED VIEW IF NOT EXISTS identity_links_mv TO identity_links AS
SELECT program, user_id, if(type = 'alias', previous_id, anonymous_id) AS anonymous_id, ts AS first_ts, ts AS last_ts
FROM events
WHERE user_id != '' AND if(type = 'alias', previous_id, anonymous_id) != '';

INSERT INTO identity_links
SELECT program, user_id, if(type = 'alias', previous_id, anonymous_id) AS anonymous_id, min(ts), max(ts)
FROM events
WHERE user_id != '' AND if(type = 'alias', previous_id, anonymous_id) != ''
GROUP BY program, user_id, anonymous_id;

-- Explicit needs: every questionnaire answer; the latest per question counts.
CREATE TABLE IF NOT EXISTS questionnaire_answers
(
    program       LowCardinality(String),
    actor_id      String,
    questionnaire String,
    question      String,
    answer        String,
    ts            DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(ts)
ORDER BY (program, actor_id, questionnaire, question);

CREATE MATERIALIZED VIEW IF NOT EXISTS questionnaire_answers_mv TO questionnaire_answers AS
SELECT program, if(user_id != '', user_id, anonymous_id) AS actor_id, JSONExtractString(properties, 'questionnaire') AS questionnaire,
       tupleElement(a, 1) AS question, tupleElement(a, 2) AS answer, ts
FROM events
ARRAY JOIN JSONExtract(properties, 'answers', 'Array(Tuple(question String, answer String))') AS a
WHERE event = 'questionnaire_answered' AND questionnaire != '' AND question != '' AND answer != '';

-- Touches per id and channel: count and the last one.
CREATE TABLE IF NOT EXISTS channel_touches
(
    program  LowCardinality(String),
    actor_id String,
    channel  LowCardinality(String),
    touches  SimpleAggregateFunction(sum, UInt64),
    last_ts  SimpleAggregateFunction(max, DateTime64(3, 'UTC'))
)
ENGINE = AggregatingMergeTree
ORDER BY (program, actor_id, channel);

CREATE MATERIALIZED VIEW IF NOT EXISTS channel_touches_mv TO channel_touches AS
SELECT program, if(user_id != '', user_id, anonymous_id) AS actor_id, channel, toUInt64(1) AS touches, ts AS last_ts
FROM events
WHERE is_bot = 0;

INSERT INTO channel_touches
SELECT program, if(user_id != '', user_id, anonymous_id) AS actor_id, channel, count(), max(ts)
FROM events
WHERE is_bot = 0
GROUP BY program, actor_id, channel;
