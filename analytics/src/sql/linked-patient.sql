-- The patient an anonymous id (or alias's previous id) is linked to; the first by id when several.
-- params: program String, id String
SELECT min(user_id) AS user_id
FROM identity_links
WHERE program = {program:String} AND anonymous_id = {id:String}
HAVING count() > 0
