-- Audience part (decide/compile-sql.ts): every person's effective level — the highest level
-- whose minimum their goal points reach (each goal's points once if it counts once, else per time
-- reached, across all their ids; 0 when none is reached), raised to the highest unlock_level of
-- a rule shown to them within the last 400 days (the profile's window of decisions).
-- Returns: person String, level UInt64.
-- params: program String, goal_ids Array(String), goal_points Array(UInt64), goal_once Array(UInt8),
--         level_ids Array(UInt64), level_mins Array(Float64) (sorted by level),
--         unlock_rules Array(String), unlock_levels Array(UInt64), activity_since Date
SELECT p.person AS person,
       greatest(arrayLast((id, min_value) -> coalesce(v.value, 0) >= min_value, {level_ids:Array(UInt64)}, {level_mins:Array(Float64)}), coalesce(u.level, 0)) AS level
FROM persons AS p
LEFT JOIN
(
    SELECT person, sum(if(transform(goal, {goal_ids:Array(String)}, {goal_once:Array(UInt8)}, toUInt8(0)) = 1, 1, times) * transform(goal, {goal_ids:Array(String)}, {goal_points:Array(UInt64)}, toUInt64(0))) AS value
    FROM
    (
        SELECT ids.person AS person, toString(g.goal) AS goal, sum(g.times) AS times
        FROM goal_conversions AS g
        INNER JOIN person_ids AS ids ON g.actor_id = ids.actor
        WHERE g.program = {program:String}
        GROUP BY person, goal
    )
    GROUP BY person
) AS v ON v.person = p.person
LEFT JOIN
(
    SELECT ids.person AS person, max(transform(toString(d.rule), {unlock_rules:Array(String)}, {unlock_levels:Array(UInt64)}, toUInt64(0))) AS level
    FROM decision_days AS d
    INNER JOIN person_ids AS ids ON d.actor_id = ids.actor
    WHERE d.program = {program:String} AND d.outcome = 'shown' AND d.day >= {activity_since:Date} AND has({unlock_rules:Array(String)}, toString(d.rule))
    GROUP BY person
) AS u ON u.person = p.person
