//! OpenPanel's ClickHouse tables, as `migrate` creates them when they are missing.
//!
//! Names, column order, engines, codecs and the sort key follow OpenPanel's own migrations
//! (`packages/db/code-migrations/3-init-ch.sql`, `8-order-keys.ts` for the events sort key,
//! in github.com/Openpanel-dev/openpanel). Where OpenPanel's type would lose data that the
//! contract (§2.1) promises to return, the type is widened, and each such column says so;
//! the queries Quarry runs read OpenPanel's own types as well, so an existing OpenPanel
//! database is used as it is. `migrate` never alters a table that already exists.
//!
//! The insert rows in `insert.rs` must match these columns (the `clickhouse` crate checks
//! them against `DESCRIBE TABLE` before the first insert).

/// `events`: one row per event.
pub const EVENTS: &str = "\
CREATE TABLE IF NOT EXISTS events (
    `id` UUID DEFAULT generateUUIDv4(),
    `name` LowCardinality(String),
    `sdk_name` LowCardinality(String),
    `sdk_version` LowCardinality(String),
    `device_id` String CODEC(ZSTD(3)),
    `profile_id` String CODEC(ZSTD(3)),
    `project_id` String CODEC(ZSTD(3)),
    `session_id` String CODEC(LZ4),
    `path` String CODEC(ZSTD(3)),
    `origin` String CODEC(ZSTD(3)),
    `referrer` String CODEC(ZSTD(3)),
    `referrer_name` String CODEC(ZSTD(3)),
    `referrer_type` LowCardinality(String),
    -- OpenPanel: UInt64; the contract's durations are signed 64-bit integers.
    `duration` Int64 CODEC(Delta(8), LZ4),
    `properties` Map(String, String) CODEC(ZSTD(3)),
    `created_at` DateTime64(3) CODEC(DoubleDelta, ZSTD(3)),
    -- OpenPanel: LowCardinality(FixedString(2)), which pads '' to two NUL bytes and
    -- rejects anything longer than a country code.
    `country` LowCardinality(String),
    `city` String,
    `region` LowCardinality(String),
    -- OpenPanel: Nullable(Float32); Float64 returns imported coordinates exactly.
    `longitude` Nullable(Float64) CODEC(Gorilla, LZ4),
    `latitude` Nullable(Float64) CODEC(Gorilla, LZ4),
    `os` LowCardinality(String),
    `os_version` LowCardinality(String),
    `browser` LowCardinality(String),
    `browser_version` LowCardinality(String),
    `device` LowCardinality(String),
    `brand` LowCardinality(String),
    `model` LowCardinality(String),
    -- OpenPanel: Nullable(DateTime) (seconds); the contract keeps milliseconds.
    `imported_at` Nullable(DateTime64(3)) CODEC(Delta(8), LZ4)
)
ENGINE = MergeTree()
PARTITION BY toYYYYMM(created_at)
ORDER BY (project_id, toDate(created_at), created_at, name)
SETTINGS index_granularity = 8192";

/// The projection `quarry migrate --events-by-name` adds to `events`.
pub const EVENTS_BY_NAME: &str = "quarry_events_by_name";

/// How to remove it again.
pub const DROP_EVENTS_BY_NAME: &str = "ALTER TABLE events DROP PROJECTION quarry_events_by_name";

/// `profiles`: read with `FINAL`, so the last row written for `(project_id, id)` wins.
///
/// OpenPanel declares `ReplacingMergeTree(created_at)` partitioned by month: a version
/// column makes an upsert with an older `created_at` lose, and rows are only merged within
/// a partition. Without either, an upsert replaces the profile as it does on SQLite and
/// PostgreSQL. The columns are OpenPanel's.
pub const PROFILES: &str = "\
CREATE TABLE IF NOT EXISTS profiles (
    `id` String CODEC(ZSTD(3)),
    `is_external` Bool,
    `first_name` String CODEC(ZSTD(3)),
    `last_name` String CODEC(ZSTD(3)),
    `email` String CODEC(ZSTD(3)),
    `avatar` String CODEC(ZSTD(3)),
    `properties` Map(String, String) CODEC(ZSTD(3)),
    `project_id` String CODEC(ZSTD(3)),
    `created_at` DateTime64(3) CODEC(Delta(8), LZ4)
)
ENGINE = ReplacingMergeTree()
ORDER BY (project_id, id)
SETTINGS index_granularity = 8192";

/// Every table `migrate` creates, in order.
pub const TABLES: [&str; 2] = [EVENTS, PROFILES];
