-- why: batch audiences (rules compiled to SQL) select patients — ids that arrived as a user id — and need that set without scanning events; anonymous ids are people only through the patient they are linked to.
CREATE TABLE IF NOT EXISTS patients
(
    program    LowCardinality(String),
    patient_id String
)
ENGINE = ReplacingMergeTree
ORDER BY (program, patient_id);

-- DISTINCT per inserted block: a batch of one patient's events adds one row, not one per event.
CREATE MATERIALIZED VIEW IF NOT EXISTS patients_mv TO patients AS
SELECT DISTINCT program, user_id AS patient_id
FROM events
WHERE user_id != '';

INSERT INTO patients
SELECT DISTINCT program, user_id AS patient_id
FROM events
WHERE user_id != '';
