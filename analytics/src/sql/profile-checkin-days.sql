-- Days (in the program's time zone) on which one person reached the adherence goal, within a
-- window. Reads events (date-pruned, ids found through bloom-filter indexes).
-- params: program String, ids Array(String), goal String, since DateTime64(3), tz String
SELECT DISTINCT toString(toDate(ts, {tz:String})) AS day
FROM events
WHERE program = {program:String} AND ts >= {since:DateTime64(3)} AND has(goal_ids, {goal:String})
  AND (user_id IN {ids:Array(String)} OR anonymous_id IN {ids:Array(String)})
ORDER BY day
