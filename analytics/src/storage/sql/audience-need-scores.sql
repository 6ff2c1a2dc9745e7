-- Audience part (decide/compile-sql.ts): each person's need scores as the profile uses them, over
-- all their ids (CTE `person_ids`), one element per need of the program in its order:
-- explicit when a latest answer maps to the need, else inferred (decayed to {now_ms}).
--   scores   Array(Float64)  the score used
--   explicit Array(UInt8)    1 where it is explicit
--   ranked   Array(UInt32)   need positions (1-based) scoring above 0: explicit first, then by
--                            score, ties in the program's order — a need's rank is its index here
-- Explicit scores add the answers' weights in the profile's order (questionnaire, question), so
-- they are the same floating-point numbers as the profile's; inferred ones agree to rounding.
-- A person with no need data has no row (scores all 0, nothing ranked).
-- params: program String, now_ms Int64, half_life_days Float64, needs Array(String),
--         answer_questionnaires, answer_questions, answer_ids, answer_needs Array(String),
--         answer_weights Array(Float64) — one element per (answer, need) weight of the program
SELECT person,
       arrayMap(n -> if(mapContains(e, n), e[n], if(mapContains(i, n), i[n], 0)), {needs:Array(String)}) AS scores,
       arrayMap(n -> toUInt8(mapContains(e, n)), {needs:Array(String)}) AS explicit,
       arrayFilter(j -> scores[j] > 0, arraySort(j -> (-toInt8(explicit[j]), -scores[j], j), arrayEnumerate(scores))) AS ranked
FROM
(
    SELECT person,
           mapFromArrays(groupArrayIf(need, src = 1), groupArrayIf(score, src = 1)) AS e,
           mapFromArrays(groupArrayIf(need, src = 0), groupArrayIf(score, src = 0)) AS i
    FROM
    (
        -- Inferred: each day's weights decayed by 2^(-age / half-life), age from the start of the day (a later day counts as now).
        SELECT ids.person AS person, toString(w.need) AS need, toUInt8(0) AS src,
               sum(w.weight * exp2((least(toUnixTimestamp64Milli(toDateTime64(w.day, 3, 'UTC')), {now_ms:Int64}) - {now_ms:Int64}) / (86400000 * {half_life_days:Float64}))) AS score
        FROM need_day_weights AS w
        INNER JOIN person_ids AS ids ON w.actor_id = ids.actor
        WHERE w.program = {program:String}
        GROUP BY person, need
        UNION ALL
        -- Explicit: the latest answer per question across the person's ids, through the program's answer weights.
        SELECT la.person AS person, aw.need AS need, toUInt8(1) AS src,
               arrayFold((acc, x) -> acc + x.2, arraySort(x -> x.1, groupArray((tuple(la.questionnaire, la.question), aw.weight))), toFloat64(0)) AS score
        FROM
        (
            SELECT ids.person AS person, a.questionnaire AS questionnaire, a.question AS question, argMax(a.answer, a.ts) AS answer
            FROM questionnaire_answers AS a
            INNER JOIN person_ids AS ids ON a.actor_id = ids.actor
            WHERE a.program = {program:String}
            GROUP BY person, questionnaire, question
        ) AS la
        INNER JOIN
        (
            SELECT tupleElement(t, 1) AS questionnaire, tupleElement(t, 2) AS question, tupleElement(t, 3) AS answer, tupleElement(t, 4) AS need, tupleElement(t, 5) AS weight
            FROM (SELECT arrayJoin(arrayZip({answer_questionnaires:Array(String)}, {answer_questions:Array(String)}, {answer_ids:Array(String)}, {answer_needs:Array(String)}, {answer_weights:Array(Float64)})) AS t)
        ) AS aw ON aw.questionnaire = la.questionnaire AND aw.question = la.question AND aw.answer = la.answer
        GROUP BY person, need
    )
    GROUP BY person
)
