-- Message ids of one program that have already landed (the writer's de-duplication check).
-- params: program String, ids Array(String)
SELECT DISTINCT message_id
FROM event_ids
WHERE program = {program:String} AND message_id IN (SELECT arrayJoin({ids:Array(String)}))
