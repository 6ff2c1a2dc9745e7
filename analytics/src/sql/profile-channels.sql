-- Touches of one person per channel: how many and the last.
-- params: program String, ids Array(String)
SELECT channel, sum(touches) AS touches, max(last_ts) AS last_ts
FROM channel_touches
WHERE program = {program:String} AND actor_id IN {ids:Array(String)}
GROUP BY channel
ORDER BY last_ts DESC
