-- The latest answer of one person to each question they answered.
-- params: program String, ids Array(String)
SELECT questionnaire, question, argMax(answer, ts) AS answer, max(ts) AS answered_at
FROM questionnaire_answers
WHERE program = {program:String} AND actor_id IN {ids:Array(String)}
GROUP BY questionnaire, question
ORDER BY questionnaire, question
