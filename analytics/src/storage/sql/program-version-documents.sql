-- Every stored version of every program with its document: what the start-up redaction of older versions reads.
-- params: none
SELECT program, version, document, source, received_at, key_id
FROM program_versions FINAL
ORDER BY program, version
