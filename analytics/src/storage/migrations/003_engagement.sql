-- why: goals and engagement kept incrementally (goal conversions per person id, profiled touches for pattern matching), and a person's timeline found without scanning every event of the program.
ALTER TABLE events ADD COLUMN IF NOT EXISTS goal_ids Array(LowCardinality(String));

-- Goal conversions per id and goal: how often, first and last (points are applied at read time
-- from the program, so a change of points applies to history).
CREATE TABLE IF NOT EXISTS goal_conversions
(
    program  LowCardinality(String),
    actor_id String,
    goal     LowCardinality(String),
    times    SimpleAggregateFunction(sum, UInt64),
    first_ts SimpleAggregateFunction(min, DateTime64(3, 'UTC')),
    last_ts  SimpleAggregateFunction(max, DateTime64(3, 'UTC'))
)
ENGINE = AggregatingMergeTree
ORDER BY (program, actor_id, goal);

CREATE MATERIALIZED VIEW IF NOT EXISTS goal_conversions_mv TO goal_conversions AS
SELECT program, if(user_id != '', user_id, anonymous_id) AS actor_id, goal, toUInt64(1) AS times, ts AS first_ts, ts AS last_ts
FROM events
ARRAY JOIN goal_ids AS goal
WHERE is_bot = 0;

-- Touches that showed catalogued content (pattern cards match only after a minimum of them).
CREATE TABLE IF NOT EXISTS profiled_touches
(
    program  LowCardinality(String),
    actor_id String,
    touches  SimpleAggregateFunction(sum, UInt64)
)
ENGINE = AggregatingMergeTree
ORDER BY (program, actor_id);

CREATE MATERIALIZED VIEW IF NOT EXISTS profiled_touches_mv TO profiled_touches AS
SELECT program, if(user_id != '', user_id, anonymous_id) AS actor_id, toUInt64(1) AS touches
FROM events
WHERE is_bot = 0 AND length(need_ids) > 0;

-- A person's timeline filters on their ids: bloom filters let it skip granules without them.
ALTER TABLE events ADD INDEX IF NOT EXISTS idx_user_id user_id TYPE bloom_filter(0.01) GRANULARITY 4;
ALTER TABLE events ADD INDEX IF NOT EXISTS idx_anonymous_id anonymous_id TYPE bloom_filter(0.01) GRANULARITY 4;
ALTER TABLE events MATERIALIZE INDEX idx_user_id;
ALTER TABLE events MATERIALIZE INDEX idx_anonymous_id;
