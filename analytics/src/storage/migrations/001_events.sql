-- why: the landing table for every touch point, ordered so reports prune by program and day.
CREATE TABLE IF NOT EXISTS events
(
    message_id      String,
    program         LowCardinality(String),
    type            LowCardinality(String),
    event           LowCardinality(String),
    channel         LowCardinality(String),
    user_id         String,
    anonymous_id    String,
    ts              DateTime64(3, 'UTC') CODEC(DoubleDelta, ZSTD(1)),
    original_ts     DateTime64(3, 'UTC') CODEC(DoubleDelta, ZSTD(1)),
    received_at     DateTime64(3, 'UTC') CODEC(DoubleDelta, ZSTD(1)),
    sent_at         Nullable(DateTime64(3, 'UTC')),
    historical      UInt8,
    key_id          LowCardinality(String),
    page_url        String CODEC(ZSTD(1)),
    page_path       String CODEC(ZSTD(1)),
    page_title      String CODEC(ZSTD(1)),
    referrer        String CODEC(ZSTD(1)),
    utm_source      LowCardinality(String),
    utm_medium      LowCardinality(String),
    utm_campaign    LowCardinality(String),
    utm_term        String,
    utm_content     String,
    browser         LowCardinality(String),
    browser_version LowCardinality(String),
    os              LowCardinality(String),
    os_version      LowCardinality(String),
    device_type     LowCardinality(String),
    is_bot          UInt8,
    ip_prefix       String,
    library_name    LowCardinality(String),
    library_version LowCardinality(String),
    previous_id     String,
    group_id        String,
    properties      String CODEC(ZSTD(3)),
    traits          String CODEC(ZSTD(3)),
    context         String CODEC(ZSTD(3))
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(ts)
ORDER BY (program, toDate(ts), event, ts)
SETTINGS non_replicated_deduplication_window = 10000;

-- why: the writer looks up incoming message ids here (primary-key ranges, not a scan of events).
CREATE TABLE IF NOT EXISTS event_ids
(
    program     LowCardinality(String),
    message_id  String,
    received_at DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree
ORDER BY (program, message_id)
TTL toDateTime(received_at) + INTERVAL 35 DAY
-- A retried events insert is deduplicated here too only if this table deduplicates blocks.
SETTINGS non_replicated_deduplication_window = 10000;

CREATE MATERIALIZED VIEW IF NOT EXISTS event_ids_mv TO event_ids AS
SELECT program, message_id, received_at FROM events;
