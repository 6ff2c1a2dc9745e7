-- Each anonymous id (or alias's previous id) with the patient it counts for: the one linked last
-- (a shared browser is the patient who logged in last), the first by id on a tie; the rule of
-- linked-patient.sql and of the profile. Used as `links AS ({{person-links}})`.
-- params: program String
SELECT anonymous_id, argMin(user_id, (-toUnixTimestamp64Milli(last_ts), user_id)) AS linked_user
FROM (SELECT anonymous_id, user_id, max(last_ts) AS last_ts FROM identity_links WHERE program = {program:String} GROUP BY anonymous_id, user_id)
GROUP BY anonymous_id
