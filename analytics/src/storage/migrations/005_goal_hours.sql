-- why: adherence reads a person's check-in times from an aggregate instead of scanning events, so a profile needs one query for all its aggregates.
CREATE TABLE IF NOT EXISTS goal_hours
(
    program  LowCardinality(String),
    actor_id String,
    goal     LowCardinality(String),
    hour     DateTime('UTC'),
    times    SimpleAggregateFunction(sum, UInt64)
)
ENGINE = AggregatingMergeTree
ORDER BY (program, actor_id, goal, hour);

CREATE MATERIALIZED VIEW IF NOT EXISTS goal_hours_mv TO goal_hours AS
SELECT program, if(user_id != '', user_id, anonymous_id) AS actor_id, goal, toStartOfHour(toDateTime(ts, 'UTC')) AS hour, toUInt64(1) AS times
FROM events
ARRAY JOIN goal_ids AS goal
WHERE is_bot = 0;

INSERT INTO goal_hours
SELECT program, if(user_id != '', user_id, anonymous_id) AS actor_id, goal, toStartOfHour(toDateTime(ts, 'UTC')) AS hour, count()
FROM events
ARRAY JOIN goal_ids AS goal
WHERE is_bot = 0
GROUP BY program, actor_id, goal, hour;
