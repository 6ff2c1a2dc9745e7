-- Touches of one person that showed catalogued content.
-- params: program String, ids Array(String)
SELECT sum(touches) AS touches
FROM profiled_touches
WHERE program = {program:String} AND actor_id IN {ids:Array(String)}
