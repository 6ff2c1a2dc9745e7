-- Every stored version of one program document, newest first (without the documents).
-- params: program String
SELECT version, checksum, source, received_at, key_id
FROM program_versions FINAL
WHERE program = {program:String}
ORDER BY version DESC
