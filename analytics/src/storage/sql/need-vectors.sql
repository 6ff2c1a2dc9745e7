-- Every person's decayed need scores in a program, ids resolved to the patient they are linked
-- to (the k-means input). An anonymous id linked to several patients goes to the one linked last (first by id on a tie), as linked-patient.sql.
-- params: program String, now DateTime64(3), half_life_days Float64
WITH links AS ({{person-links}})
SELECT person, groupArray(need) AS needs, groupArray(score) AS scores
FROM
(
    SELECT if(l.linked_user != '', l.linked_user, w.actor_id) AS person, w.need AS need, sum(w.score) AS score
    FROM
    (
        SELECT actor_id, toString(need) AS need,
               sum(weight * exp2(-greatest(0, dateDiff('millisecond', toDateTime64(day, 3, 'UTC'), {now:DateTime64(3)})) / (86400000 * {half_life_days:Float64}))) AS score
        FROM need_day_weights
        WHERE program = {program:String}
        GROUP BY actor_id, need
    ) AS w
    LEFT JOIN links AS l ON l.anonymous_id = w.actor_id
    GROUP BY person, need
)
GROUP BY person
ORDER BY person
