-- Audience part (decide/compile-sql.ts): each person's nearest pattern card, as the profile matches
-- it: only with at least {pattern_min_touches} profiled touches across their ids; their need
-- scores (CTE `need_scores`) scaled to a maximum of 1 (negatives as 0), the card nearest by
-- Euclidean distance, the first in the program's order on a tie. No row: no pattern.
-- Returns: person String, pattern String.
-- params: program String, pattern_min_touches UInt64, pattern_ids Array(String),
--         pattern_cards Array(Array(Float64)) — each card over the program's needs, already scaled
SELECT person, {pattern_ids:Array(String)}[arrayFirstIndex(d -> d = arrayMin(distances), distances)] AS pattern
FROM
(
    SELECT s.person AS person,
           arrayMax(arrayMap(x -> greatest(x, 0), s.scores)) AS top,
           arrayMap(x -> greatest(x, 0) / top, s.scores) AS mine,
           arrayMap(card -> sqrt(arrayFold((acc, c, m) -> acc + (c - m) * (c - m), card, mine, toFloat64(0))), {pattern_cards:Array(Array(Float64))}) AS distances
    FROM need_scores AS s
    INNER JOIN
    (
        SELECT ids.person AS person, sum(t.touches) AS touches
        FROM profiled_touches AS t
        INNER JOIN person_ids AS ids ON t.actor_id = ids.actor
        WHERE t.program = {program:String}
        GROUP BY person
    ) AS pr ON pr.person = s.person
    WHERE pr.touches >= {pattern_min_touches:UInt64} AND length(s.scores) > 0 AND top > 0
)
WHERE length(distances) > 0
