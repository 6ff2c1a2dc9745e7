-- Audience part (decide/compile-sql.ts): the program's patients — every id that arrived as a user
-- id. Anonymous ids are people only through the patient they are linked to.
-- Returns: person String.
-- params: program String
SELECT DISTINCT patient_id AS person
FROM patients
WHERE program = {program:String}
