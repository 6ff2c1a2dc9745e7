-- Per rule, the people treated and the people held out by the rule's own holdout within a window,
-- and how many of each reached an outcome goal within `window_days` of their first decision.
-- Every id is resolved to its person (a patient id with the anonymous ids linked to it, as in the
-- profile, so a browser identified after its decisions counts for its patient). A person's arm
-- comes from their decision events in [from, to): `shown` is treated (with `assigned` = 1 also
-- `capped` and `suppressed`, i.e. every decision that passed the holdout check); `held_out` with
-- holdout `rule` is the control group; a person with both (ids that hashed differently, or a share
-- changed in the window) is counted as `mixed` and left out of both. The outcome: the goal reached
-- on at least `min_days` distinct days (in `tz`) within [first decision, first decision + window_days).
-- Decisions and goals are read from `events` by (program, day): primary-key ranges, not a scan.
-- params: program String, from DateTime64(3), to DateTime64(3), window_days UInt32, goal String,
--         min_days UInt32, tz String, rules Array(String) (empty: every rule), assigned UInt8
WITH
    links AS ({{person-links}}),
    decisions AS (
        SELECT if(l.linked_user != '', l.linked_user, d.actor) AS person, d.rule AS rule, d.arm AS arm, d.ts AS ts
        FROM
        (
            SELECT if(user_id != '', user_id, anonymous_id) AS actor, JSONExtractString(properties, 'rule') AS rule, ts,
                   JSONExtractString(properties, 'outcome') AS outcome,
                   multiIf(outcome = 'shown', 'treated',
                           outcome = 'held_out', if(JSONExtractString(properties, 'holdout') = 'rule', 'held_out', ''),
                           {assigned:UInt8} = 1 AND outcome IN ('capped', 'suppressed') AND JSONExtractString(properties, 'reason') != 'already_applied', 'treated',
                           '') AS arm
            FROM events
            WHERE program = {program:String} AND event = 'decision' AND type = 'track'
              AND ts >= {from:DateTime64(3)} AND ts < {to:DateTime64(3)}
        ) AS d
        LEFT JOIN links AS l ON l.anonymous_id = d.actor
        WHERE d.arm != '' AND (empty({rules:Array(String)}) OR has({rules:Array(String)}, d.rule))
    ),
    people AS (
        SELECT rule, person, min(ts) AS first_ts, if(uniqExact(arm) > 1, 'mixed', any(arm)) AS person_arm
        FROM decisions
        GROUP BY rule, person
    ),
    goal_hits AS ({{goal-hits}}),
    outcomes AS (
        SELECT p.rule AS rule, p.person_arm AS arm,
               length(arrayDistinct(arrayMap(h -> h.2, arrayFilter(h -> h.1 >= p.first_ts AND h.1 < p.first_ts + toIntervalDay({window_days:UInt32}), g.hits)))) >= {min_days:UInt32} AS reached
        FROM people AS p
        LEFT JOIN goal_hits AS g ON g.person = p.person
    )
SELECT rule,
       countIf(arm = 'treated') AS treated, countIf(arm = 'treated' AND reached) AS treated_reached,
       countIf(arm = 'held_out') AS held_out, countIf(arm = 'held_out' AND reached) AS held_out_reached,
       countIf(arm = 'mixed') AS mixed
FROM outcomes
GROUP BY rule
ORDER BY rule
