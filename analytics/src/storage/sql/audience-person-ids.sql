-- Audience part (decide/compile-sql.ts): each patient (CTE `persons`) with every id of theirs — the
-- patient id and each anonymous id (or alias's previous id) linked to it — as a profile resolves
-- them: an id linked to several patients counts for each of them.
-- Returns: person String, actor String.
-- params: program String
SELECT person, person AS actor
FROM persons
UNION DISTINCT
SELECT user_id AS person, anonymous_id AS actor
FROM identity_links
WHERE program = {program:String} AND user_id IN (SELECT person FROM persons)
