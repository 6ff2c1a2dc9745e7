-- why: need clusterings were kept only in the collector's memory, so a restart lost every profile's cluster and the clusters a manager was about to approve; every run is kept here instead, with who was in which cluster.
-- One row per clustering run, written after its memberships, so a run that is here is complete.
-- `k` and `min_size` are the settings asked for (merging small clusters may leave fewer);
-- `clusters` hold what a manager is offered: id, label, size and centroid (need → mean scaled score).
-- A few rows a day per program: one part, no partitions needed.
CREATE TABLE IF NOT EXISTS need_cluster_runs
(
    program     LowCardinality(String),
    run_id      String,
    computed_at DateTime64(3, 'UTC'),
    k           UInt16,
    min_size    UInt32,
    seed        UInt32,
    people      UInt32,
    clusters    Array(Tuple(id String, label String, size UInt32, centroid Map(LowCardinality(String), Float64))) CODEC(ZSTD(3))
)
ENGINE = MergeTree
ORDER BY (program, computed_at, run_id);

-- Who was in which cluster of a run: one row per person and run (ids resolved to their patient,
-- else the anonymous id). Partitioned by month of the run, so old runs can be dropped by partition
-- and each run's insert touches one partition.
CREATE TABLE IF NOT EXISTS need_cluster_members
(
    program     LowCardinality(String),
    run_id      String,
    computed_at DateTime64(3, 'UTC'),
    person_id   String,
    cluster_id  LowCardinality(String)
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(computed_at)
ORDER BY (program, run_id, person_id);
