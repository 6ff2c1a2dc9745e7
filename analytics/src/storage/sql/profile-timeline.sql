-- Every touch point of one person across channels, in time order, within a window (the date
-- prunes partitions and primary-key ranges; bloom-filter indexes on the ids skip the rest).
-- params: program String, ids Array(String), since DateTime64(3), limit UInt32
SELECT ts, type, event, channel, page_path, utm_campaign, content_ids, goal_ids, properties, user_id, anonymous_id
FROM events
WHERE program = {program:String} AND ts >= {since:DateTime64(3)} AND (user_id IN {ids:Array(String)} OR anonymous_id IN {ids:Array(String)})
ORDER BY ts, received_at
LIMIT {limit:UInt32}
