-- The document (canonical JSON text) of one stored version of a program.
-- params: program String, version UInt32
SELECT document
FROM program_versions FINAL
WHERE program = {program:String} AND version = {version:UInt32}
LIMIT 1
