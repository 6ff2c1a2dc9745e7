-- The latest complete need clustering run of a program (a run row is written after its
-- memberships): settings and clusters, without the memberships.
-- params: program String
SELECT run_id, computed_at, k, min_size, seed, people, clusters
FROM need_cluster_runs
WHERE program = {program:String}
ORDER BY computed_at DESC, run_id DESC
LIMIT 1
