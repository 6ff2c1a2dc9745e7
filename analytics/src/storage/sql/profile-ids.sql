-- Every id of one person: the patient id and the anonymous ids (and alias previous ids) linked to it.
-- params: program String, patient String
SELECT DISTINCT anonymous_id AS id
FROM identity_links
WHERE program = {program:String} AND user_id = {patient:String}
