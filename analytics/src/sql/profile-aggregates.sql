-- Everything a profile reads from the aggregate tables for one person, in one round trip (each
-- query costs the embedded engine several milliseconds whatever its size): rows of
-- (part, a, b, num, num2, ts) — part says which table answered.
-- params: program String, ids Array(String), now DateTime64(3), half_life_days Float64,
--         checkin_goal String (the adherence goal, or ''), checkin_since DateTime64(3), tz String
SELECT 'need' AS part, toString(need) AS a, '' AS b,
       sum(weight * exp2(-greatest(0, dateDiff('millisecond', toDateTime64(day, 3, 'UTC'), {now:DateTime64(3)})) / (86400000 * {half_life_days:Float64}))) AS num,
       toFloat64(sum(touches)) AS num2, toDateTime64(0, 3, 'UTC') AS ts
FROM need_day_weights WHERE program = {program:String} AND actor_id IN {ids:Array(String)} GROUP BY need
UNION ALL
SELECT 'answer', concat(questionnaire, '\t', question), argMax(answer, questionnaire_answers.ts), 0, 0, max(questionnaire_answers.ts)
FROM questionnaire_answers WHERE program = {program:String} AND actor_id IN {ids:Array(String)} GROUP BY questionnaire, question
UNION ALL
SELECT 'channel', toString(channel), '', toFloat64(sum(touches)), 0, max(last_ts)
FROM channel_touches WHERE program = {program:String} AND actor_id IN {ids:Array(String)} GROUP BY channel
UNION ALL
SELECT 'goal', toString(goal), toString(min(first_ts)), toFloat64(sum(times)), 0, max(last_ts)
FROM goal_conversions WHERE program = {program:String} AND actor_id IN {ids:Array(String)} GROUP BY goal
UNION ALL
SELECT 'profiled', '', '', toFloat64(sum(touches)), 0, toDateTime64(0, 3, 'UTC')
FROM profiled_touches WHERE program = {program:String} AND actor_id IN {ids:Array(String)}
UNION ALL
SELECT 'checkin', toString(toDate(hour, {tz:String})), '', 0, 0, toDateTime64(0, 3, 'UTC')
FROM goal_hours
WHERE program = {program:String} AND actor_id IN {ids:Array(String)} AND goal = {checkin_goal:String} AND hour >= {checkin_since:DateTime64(3)}
GROUP BY hour
