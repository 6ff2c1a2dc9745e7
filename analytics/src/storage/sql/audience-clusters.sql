-- Audience part (decide/compile-sql.ts): each person's cluster in the program's latest stored
-- clustering run (as latest-cluster-run.sql picks it). No row: no cluster.
-- Returns: person String, cluster String.
-- params: program String
SELECT person_id AS person, any(toString(cluster_id)) AS cluster
FROM need_cluster_members
WHERE program = {program:String}
  AND (run_id, computed_at) IN (
      SELECT run_id, computed_at
      FROM need_cluster_runs
      WHERE program = {program:String}
      ORDER BY computed_at DESC, run_id DESC
      LIMIT 1
  )
GROUP BY person
