-- Goals one person reached: how often, first and last time.
-- params: program String, ids Array(String)
SELECT goal, sum(times) AS times, min(first_ts) AS first_ts, max(last_ts) AS last_ts
FROM goal_conversions
WHERE program = {program:String} AND actor_id IN {ids:Array(String)}
GROUP BY goal
ORDER BY first_ts
