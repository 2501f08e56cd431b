-- earshot warehouse, version 2: every kind of source, one conversation stored once.

-- Incremental state of any listener (ETag, high-water marks, file fingerprints) as one JSON cursor.
-- The table is rebuilt (create, copy, swap) because DuckDB 1.5 cannot commit a DROP COLUMN made inside
-- the migration's transaction.
CREATE TABLE sources_v2 (
    source_id            VARCHAR PRIMARY KEY,
    kind                 VARCHAR NOT NULL,
    audience             VARCHAR NOT NULL,
    name                 VARCHAR,
    url                  VARCHAR,
    influencer           BOOLEAN NOT NULL DEFAULT FALSE,
    enabled              BOOLEAN NOT NULL DEFAULT TRUE,
    cursor               JSON,
    last_fetch_at        TIMESTAMPTZ,
    last_success_at      TIMESTAMPTZ,
    last_status          VARCHAR,
    last_error_kind      VARCHAR,
    last_error           VARCHAR,
    consecutive_failures INTEGER NOT NULL DEFAULT 0,
    items_last_run       INTEGER NOT NULL DEFAULT 0,
    updated_at           TIMESTAMPTZ
);
INSERT INTO sources_v2
SELECT source_id, kind, audience, name, url, influencer, enabled,
       CASE WHEN etag IS NOT NULL OR last_modified IS NOT NULL
            THEN json_object('etag', etag, 'last_modified', last_modified) END,
       last_fetch_at, last_success_at, last_status, last_error_kind, last_error, consecutive_failures,
       items_last_run, updated_at
FROM sources;
DROP TABLE sources;
ALTER TABLE sources_v2 RENAME TO sources;

ALTER TABLE fetches ADD COLUMN attempts INTEGER DEFAULT 1;
ALTER TABLE fetches ADD COLUMN payloads INTEGER DEFAULT 0;

-- What kind of thing was said, how people engaged with it, and who said it (rebuilt like sources:
-- several ADD COLUMNs on an indexed table do not commit inside one transaction in DuckDB 1.5).
CREATE TABLE mentions_v2 (
    mention_id      VARCHAR PRIMARY KEY,
    source_id       VARCHAR NOT NULL,   -- the source that first carried the conversation
    audience        VARCHAR NOT NULL,
    url             VARCHAR,
    author          VARCHAR,
    title           VARCHAR,
    text            VARCHAR NOT NULL,
    published_at    TIMESTAMPTZ,
    content_hash    VARCHAR NOT NULL,
    kind            VARCHAR NOT NULL DEFAULT 'article',
    parent_id       VARCHAR,
    score           INTEGER,
    comments        INTEGER,
    rating          DOUBLE,
    flags           VARCHAR[] NOT NULL DEFAULT [],
    influencer      BOOLEAN NOT NULL DEFAULT FALSE,
    canonical_url   VARCHAR,
    near_key        VARCHAR,
    first_seen_run  VARCHAR NOT NULL,
    last_seen_run   VARCHAR NOT NULL,
    first_seen_at   TIMESTAMPTZ NOT NULL,
    last_seen_at    TIMESTAMPTZ NOT NULL
);
INSERT INTO mentions_v2 (mention_id, source_id, audience, url, author, title, text, published_at, content_hash,
                         first_seen_run, last_seen_run, first_seen_at, last_seen_at)
SELECT mention_id, source_id, audience, url, author, title, text, published_at, content_hash,
       first_seen_run, last_seen_run, first_seen_at, last_seen_at
FROM mentions;
DROP TABLE mentions;
ALTER TABLE mentions_v2 RENAME TO mentions;

-- Provenance: every source item that carried a conversation. A mention heard from two sources (same
-- URL, or near-identical text) is one row in mentions and two here.
CREATE TABLE mention_sources (
    source_id       VARCHAR NOT NULL,
    item_id         VARCHAR NOT NULL,   -- the item's own id within its source
    mention_id      VARCHAR NOT NULL,   -- the conversation it belongs to
    audience        VARCHAR NOT NULL,
    url             VARCHAR,
    author          VARCHAR,
    influencer      BOOLEAN NOT NULL DEFAULT FALSE,
    first_seen_run  VARCHAR NOT NULL,
    last_seen_run   VARCHAR NOT NULL,
    first_seen_at   TIMESTAMPTZ NOT NULL,
    last_seen_at    TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (source_id, item_id)
);
INSERT INTO mention_sources
SELECT source_id, mention_id, mention_id, audience, url, author, FALSE, first_seen_run, last_seen_run,
       first_seen_at, last_seen_at
FROM mentions;

-- Source health at a glance. A source that has failed 3 runs in a row is 'failing': flagged loudly.
CREATE VIEW source_health AS
SELECT s.source_id, s.kind, s.audience, s.name, s.enabled,
       CASE WHEN s.consecutive_failures >= 3 THEN 'failing' ELSE coalesce(s.last_status, 'never fetched') END
           AS status,
       s.last_success_at, s.last_fetch_at, s.last_error_kind, s.last_error, s.consecutive_failures,
       s.items_last_run,
       (SELECT count(*) FROM mention_sources ms WHERE ms.source_id = s.source_id) AS items_total,
       (SELECT list(f.items ORDER BY f.fetched_at DESC)[1:10] FROM fetches f WHERE f.source_id = s.source_id)
           AS items_recent_runs
FROM sources s;
