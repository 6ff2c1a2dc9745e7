-- Inferred need scores of one person: need weights of the content their touches showed, each
-- day's sum halved per half-life of age (measured from the start of that day to `now`).
-- params: program String, ids Array(String), now DateTime64(3), half_life_days Float64
SELECT need,
       sum(weight * exp2(-greatest(0, dateDiff('millisecond', toDateTime64(day, 3, 'UTC'), {now:DateTime64(3)})) / (86400000 * {half_life_days:Float64}))) AS score,
       sum(touches) AS touches
FROM need_day_weights
WHERE program = {program:String} AND actor_id IN {ids:Array(String)}
GROUP BY need
ORDER BY score DESC, need
