-- Message ids of one program that have already landed (the writer's de-duplication check).
-- params: program String, ids String (ids joined by newlines: one text parameter costs the
-- engine about a quarter of what an Array(String) of the same ids does), odd Array(String)
-- (the rare ids that themselves contain a newline)
SELECT DISTINCT message_id
FROM event_ids
WHERE program = {program:String}
  AND message_id IN (SELECT arrayJoin(arrayConcat(splitByChar('\n', {ids:String}), {odd:Array(String)})))
