-- why: program documents change at run time (PUT /v1/admin/programs/:id); every accepted version is kept, so the active one survives a restart and every earlier one can be read back.
-- `checksum` is the SHA-256 of the document's canonical JSON (keys sorted, no whitespace); `source`
-- says whether the version came from the program's file at start-up or from the API, so a file
-- changed since it was last stored is recognised. Documents keep `env:NAME` references unresolved.
CREATE TABLE IF NOT EXISTS program_versions
(
    program     LowCardinality(String),
    version     UInt32,
    document    String CODEC(ZSTD(3)),
    checksum    String,
    source      LowCardinality(String),
    received_at DateTime64(3, 'UTC'),
    key_id      String
)
ENGINE = ReplacingMergeTree
ORDER BY (program, version);
