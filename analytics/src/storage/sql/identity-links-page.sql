-- The patient ↔ linked-id pairs of a program (page {page} of {pages} by the patient id), with
-- when each was last seen (ms), which the profile store keeps in memory to resolve a patient's ids
-- and a shared browser's current patient without a query.
-- params: program String, pages UInt32, page UInt32
SELECT user_id, anonymous_id, toUnixTimestamp64Milli(max(last_ts)) AS last_ms
FROM identity_links
WHERE program = {program:String} AND ({pages:UInt32} = 1 OR cityHash64(user_id) % {pages:UInt32} = {page:UInt32})
GROUP BY user_id, anonymous_id
