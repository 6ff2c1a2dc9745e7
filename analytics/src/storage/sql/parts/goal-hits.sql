-- Each person's hits of the outcome goal from `from` to `to` + `window_days`, with the day (in
-- `tz`) of each: ids resolved through the `links` CTE ({{person-links}}). Used as
-- `goal_hits AS ({{goal-hits}})`.
-- params: program String, from DateTime64(3), to DateTime64(3), window_days UInt32, goal String, tz String
SELECT person, groupArray((ts, day)) AS hits
FROM
(
    SELECT if(l.linked_user != '', l.linked_user, g.actor) AS person, g.ts AS ts, g.day AS day
    FROM
    (
        SELECT if(user_id != '', user_id, anonymous_id) AS actor, ts, toDate(ts, {tz:String}) AS day
        FROM events
        WHERE program = {program:String} AND is_bot = 0 AND has(goal_ids, {goal:String})
          AND ts >= {from:DateTime64(3)} AND ts < {to:DateTime64(3)} + toIntervalDay({window_days:UInt32})
    ) AS g
    LEFT JOIN links AS l ON l.anonymous_id = g.actor
)
GROUP BY person
