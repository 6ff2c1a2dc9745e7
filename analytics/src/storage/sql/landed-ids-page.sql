-- One page of a program's landed message ids, after a given id, in primary-key order.
-- params: program String, after String, limit UInt32
SELECT DISTINCT program, message_id
FROM event_ids
WHERE program = {program:String} AND message_id > {after:String}
ORDER BY message_id
LIMIT {limit:UInt32}
