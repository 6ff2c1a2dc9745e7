-- The program level of the uplift report: every patient with a touch point of their own in
-- [from, to) (any event but Attune's decisions and stage changes; bots excluded), with whether
-- they reached an outcome goal on at least `min_days` distinct days (in `tz`) within
-- [first touch in the window, + window_days). Ids are resolved to their patient as in the profile;
-- anonymous ids never linked to a patient are not patients and are left out. One row per patient:
-- the split by program holdout is a hash of the patient id, computed by the caller (decide/holdout.ts).
-- params: program String, from DateTime64(3), to DateTime64(3), window_days UInt32, goal String,
--         min_days UInt32, tz String
WITH
    links AS ({{person-links}}),
    active AS (
        SELECT if(l.linked_user != '', l.linked_user, a.actor) AS person, min(a.ts) AS first_ts, max(a.is_patient OR l.linked_user != '') AS patient
        FROM
        (
            SELECT if(user_id != '', user_id, anonymous_id) AS actor, user_id != '' AS is_patient, ts
            FROM events
            WHERE program = {program:String} AND is_bot = 0 AND NOT (type = 'track' AND event IN ('decision', 'stage_changed'))
              AND ts >= {from:DateTime64(3)} AND ts < {to:DateTime64(3)}
        ) AS a
        LEFT JOIN links AS l ON l.anonymous_id = a.actor
        GROUP BY person
        HAVING patient
    ),
    goal_hits AS ({{goal-hits}})
SELECT a.person AS person,
       length(arrayDistinct(arrayMap(h -> h.2, arrayFilter(h -> h.1 >= a.first_ts AND h.1 < a.first_ts + toIntervalDay({window_days:UInt32}), g.hits)))) >= {min_days:UInt32} AS reached
FROM active AS a
LEFT JOIN goal_hits AS g ON g.person = a.person
ORDER BY person
