-- Who is in which cluster of one need clustering run (computed_at prunes to the run's partition).
-- params: program String, run_id String, computed_at DateTime64(3)
SELECT person_id, cluster_id
FROM need_cluster_members
WHERE program = {program:String} AND run_id = {run_id:String} AND computed_at = {computed_at:DateTime64(3)}
