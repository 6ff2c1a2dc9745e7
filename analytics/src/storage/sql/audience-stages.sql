-- Audience part (decide/compile-sql.ts): each person's dialogue-plan stage — the latest
-- stage_changed across their ids — and the UTC day they entered it. No row: no stage.
-- Returns: person String, stage String, entered Date.
-- params: program String
SELECT ids.person AS person, argMax(toString(s.stage), s.ts) AS stage, toDate(max(s.ts), 'UTC') AS entered
FROM stage_states AS s
INNER JOIN person_ids AS ids ON s.actor_id = ids.actor
WHERE s.program = {program:String}
GROUP BY person
