-- The patient an anonymous id (or alias's previous id) is linked to: the one linked last (a shared
-- browser is the patient who logged in last), the first by id on a tie.
-- params: program String, id String
SELECT user_id
FROM identity_links
WHERE program = {program:String} AND anonymous_id = {id:String}
GROUP BY user_id
ORDER BY max(last_ts) DESC, user_id
LIMIT 1
