-- Everything a profile reads from the aggregate tables, per id (actor), in one round trip (each
-- query costs the embedded engine several milliseconds whatever its size): rows of
-- (actor, part, a, b, num, num2, ts) — part says which table answered. The profile adds up the
-- rows of a person's ids; the profile store keeps them in memory and re-reads the ids the writer
-- lands events for.
-- Inferred needs come as sum(weight * 2^((day - anchor) / half-life)) — a decayed sum stored
-- relative to a fixed anchor, so the reader rescales it to any later time by 2^((anchor - now) /
-- half-life). Days after {clamp} (the time of the read; a clock-skewed client) count as {clamp}.
-- Which ids: those in {ids} or, with {all} = 1, every id of the program in page {page} of {pages}.
-- params: program String, ids Array(String), all UInt8, pages UInt32, page UInt32,
--         anchor DateTime64(3), clamp DateTime64(3), half_life_days Float64,
--         checkin_goal String (the adherence goal, or ''), checkin_since DateTime64(3)
SELECT actor_id AS actor, 'need' AS part, toString(need) AS a, '' AS b,
       sum(weight * exp2((least(toUnixTimestamp64Milli(toDateTime64(day, 3, 'UTC')), toUnixTimestamp64Milli({clamp:DateTime64(3)})) - toUnixTimestamp64Milli({anchor:DateTime64(3)})) / (86400000 * {half_life_days:Float64}))) AS num,
       toFloat64(sum(touches)) AS num2, toDateTime64(0, 3, 'UTC') AS ts
FROM need_day_weights
WHERE program = {program:String} AND ({all:UInt8} = 1 OR actor_id IN {ids:Array(String)}) AND ({pages:UInt32} = 1 OR cityHash64(actor_id) % {pages:UInt32} = {page:UInt32})
GROUP BY actor_id, need
UNION ALL
SELECT actor_id, 'answer', concat(questionnaire, '\t', question), argMax(answer, questionnaire_answers.ts), 0, 0, max(questionnaire_answers.ts)
FROM questionnaire_answers
WHERE program = {program:String} AND ({all:UInt8} = 1 OR actor_id IN {ids:Array(String)}) AND ({pages:UInt32} = 1 OR cityHash64(actor_id) % {pages:UInt32} = {page:UInt32})
GROUP BY actor_id, questionnaire, question
UNION ALL
SELECT actor_id, 'channel', toString(channel), '', toFloat64(sum(touches)), 0, max(last_ts)
FROM channel_touches
WHERE program = {program:String} AND ({all:UInt8} = 1 OR actor_id IN {ids:Array(String)}) AND ({pages:UInt32} = 1 OR cityHash64(actor_id) % {pages:UInt32} = {page:UInt32})
GROUP BY actor_id, channel
UNION ALL
SELECT actor_id, 'goal', toString(goal), toString(min(first_ts)), toFloat64(sum(times)), 0, max(last_ts)
FROM goal_conversions
WHERE program = {program:String} AND ({all:UInt8} = 1 OR actor_id IN {ids:Array(String)}) AND ({pages:UInt32} = 1 OR cityHash64(actor_id) % {pages:UInt32} = {page:UInt32})
GROUP BY actor_id, goal
UNION ALL
SELECT actor_id, 'profiled', '', '', toFloat64(sum(touches)), 0, toDateTime64(0, 3, 'UTC')
FROM profiled_touches
WHERE program = {program:String} AND ({all:UInt8} = 1 OR actor_id IN {ids:Array(String)}) AND ({pages:UInt32} = 1 OR cityHash64(actor_id) % {pages:UInt32} = {page:UInt32})
GROUP BY actor_id
UNION ALL
-- Check-in hours (Unix seconds, comma-separated); the reader turns them into days in the program's time zone.
SELECT actor_id, 'checkin', '', arrayStringConcat(arraySort(groupUniqArray(toUnixTimestamp(hour))), ','), 0, 0, toDateTime64(0, 3, 'UTC')
FROM goal_hours
WHERE program = {program:String} AND ({all:UInt8} = 1 OR actor_id IN {ids:Array(String)}) AND ({pages:UInt32} = 1 OR cityHash64(actor_id) % {pages:UInt32} = {page:UInt32})
  AND goal = {checkin_goal:String} AND hour >= {checkin_since:DateTime64(3)}
GROUP BY actor_id
UNION ALL
-- Consent per scope: the latest record (granted 1/0 in b), and when.
SELECT actor_id, 'consent', toString(scope), toString(argMax(granted, consent_states.ts)), 0, 0, max(consent_states.ts)
FROM consent_states
WHERE program = {program:String} AND ({all:UInt8} = 1 OR actor_id IN {ids:Array(String)}) AND ({pages:UInt32} = 1 OR cityHash64(actor_id) % {pages:UInt32} = {page:UInt32})
GROUP BY actor_id, scope
UNION ALL
-- Activity per day, channel and event within the last 400 days (a = 'day\tchannel\tevent').
SELECT actor_id, 'activity', concat(toString(day), '\t', toString(channel), '\t', toString(event)), '', toFloat64(sum(times)), 0, toDateTime64(0, 3, 'UTC')
FROM activity_days
WHERE program = {program:String} AND ({all:UInt8} = 1 OR actor_id IN {ids:Array(String)}) AND ({pages:UInt32} = 1 OR cityHash64(actor_id) % {pages:UInt32} = {page:UInt32})
  AND day >= toDate({clamp:DateTime64(3)}) - 400
GROUP BY actor_id, day, channel, event
UNION ALL
-- The first day with activity, ever (enrolment when the record carries no enrolment date).
SELECT actor_id, 'first', toString(min(day)), '', 0, 0, toDateTime64(0, 3, 'UTC')
FROM activity_days
WHERE program = {program:String} AND ({all:UInt8} = 1 OR actor_id IN {ids:Array(String)}) AND ({pages:UInt32} = 1 OR cityHash64(actor_id) % {pages:UInt32} = {page:UInt32})
GROUP BY actor_id
UNION ALL
-- Decisions per day, rule, channel and outcome within the last 400 days (a = 'day\trule\tchannel\toutcome').
SELECT actor_id, 'decision', concat(toString(day), '\t', toString(rule), '\t', toString(channel), '\t', toString(outcome)), '', toFloat64(sum(times)), 0, max(last_ts)
FROM decision_days
WHERE program = {program:String} AND ({all:UInt8} = 1 OR actor_id IN {ids:Array(String)}) AND ({pages:UInt32} = 1 OR cityHash64(actor_id) % {pages:UInt32} = {page:UInt32})
  AND day >= toDate({clamp:DateTime64(3)}) - 400
GROUP BY actor_id, day, rule, channel, outcome
UNION ALL
-- The dialogue-plan stage: the latest stage_changed.
SELECT actor_id, 'stage', toString(argMax(stage, stage_states.ts)), '', 0, 0, max(stage_states.ts)
FROM stage_states
WHERE program = {program:String} AND ({all:UInt8} = 1 OR actor_id IN {ids:Array(String)}) AND ({pages:UInt32} = 1 OR cityHash64(actor_id) % {pages:UInt32} = {page:UInt32})
GROUP BY actor_id
UNION ALL
-- Clinical dates: the latest value per name.
SELECT actor_id, 'date', toString(name), toString(argMax(value, patient_dates.ts)), 0, 0, max(patient_dates.ts)
FROM patient_dates
WHERE program = {program:String} AND ({all:UInt8} = 1 OR actor_id IN {ids:Array(String)}) AND ({pages:UInt32} = 1 OR cityHash64(actor_id) % {pages:UInt32} = {page:UInt32})
GROUP BY actor_id, name
