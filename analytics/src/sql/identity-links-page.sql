-- The patient ↔ linked-id pairs of a program (page {page} of {pages} by the patient id), which the
-- profile store keeps in memory to resolve a patient's ids without a query.
-- params: program String, pages UInt32, page UInt32
SELECT DISTINCT user_id, anonymous_id
FROM identity_links
WHERE program = {program:String} AND ({pages:UInt32} = 1 OR cityHash64(user_id) % {pages:UInt32} = {page:UInt32})
