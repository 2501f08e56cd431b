-- earshot warehouse, version 1: sources, mentions, embeddings, themes, runs.
-- Every load is an upsert or a partition replace, so any stage can be re-run safely.

CREATE TABLE sources (
    source_id            VARCHAR PRIMARY KEY,
    kind                 VARCHAR NOT NULL,
    audience             VARCHAR NOT NULL,
    name                 VARCHAR,
    url                  VARCHAR,
    influencer           BOOLEAN NOT NULL DEFAULT FALSE,
    enabled              BOOLEAN NOT NULL DEFAULT TRUE,
    -- incremental state, committed with the rows it describes
    etag                 VARCHAR,
    last_modified        VARCHAR,
    -- health
    last_fetch_at        TIMESTAMPTZ,
    last_success_at      TIMESTAMPTZ,
    last_status          VARCHAR,
    last_error_kind      VARCHAR,
    last_error           VARCHAR,
    consecutive_failures INTEGER NOT NULL DEFAULT 0,
    items_last_run       INTEGER NOT NULL DEFAULT 0,
    updated_at           TIMESTAMPTZ
);

CREATE TABLE fetches (
    run_id        VARCHAR NOT NULL,
    source_id     VARCHAR NOT NULL,
    status        VARCHAR NOT NULL,   -- ok | not_modified | warning | error
    http_status   INTEGER,
    items         INTEGER NOT NULL DEFAULT 0,
    new_items     INTEGER NOT NULL DEFAULT 0,
    warning       VARCHAR,
    error_kind    VARCHAR,
    error         VARCHAR,
    landing_path  VARCHAR,
    fetched_at    TIMESTAMPTZ,
    duration_s    DOUBLE,
    PRIMARY KEY (run_id, source_id)
);

CREATE TABLE mentions (
    mention_id      VARCHAR PRIMARY KEY,
    source_id       VARCHAR NOT NULL,
    audience        VARCHAR NOT NULL,
    url             VARCHAR,
    author          VARCHAR,
    title           VARCHAR,
    text            VARCHAR NOT NULL,
    published_at    TIMESTAMPTZ,
    content_hash    VARCHAR NOT NULL,
    first_seen_run  VARCHAR NOT NULL,
    last_seen_run   VARCHAR NOT NULL,
    first_seen_at   TIMESTAMPTZ NOT NULL,
    last_seen_at    TIMESTAMPTZ NOT NULL
);

CREATE TABLE embeddings (
    content_hash VARCHAR NOT NULL,
    model        VARCHAR NOT NULL,
    dims         INTEGER NOT NULL,
    vector       FLOAT[] NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (content_hash, model)
);

CREATE TABLE themes (
    theme_id        VARCHAR PRIMARY KEY,
    label           VARCHAR NOT NULL,
    keywords        VARCHAR[] NOT NULL,
    model           VARCHAR NOT NULL,
    centroid        FLOAT[] NOT NULL,
    size            INTEGER NOT NULL,
    coherence       DOUBLE NOT NULL,   -- mean cosine of members to the centroid: how tight the theme is
    first_seen_run  VARCHAR NOT NULL,
    last_seen_run   VARCHAR NOT NULL,
    active          BOOLEAN NOT NULL DEFAULT TRUE
);

CREATE TABLE theme_members (
    run_id      VARCHAR NOT NULL,
    mention_id  VARCHAR NOT NULL,
    theme_id    VARCHAR NOT NULL,
    similarity  DOUBLE NOT NULL,
    PRIMARY KEY (run_id, mention_id)
);

CREATE TABLE theme_quotes (
    run_id      VARCHAR NOT NULL,
    theme_id    VARCHAR NOT NULL,
    rank        INTEGER NOT NULL,
    mention_id  VARCHAR NOT NULL,
    PRIMARY KEY (run_id, theme_id, rank)
);

CREATE TABLE runs (
    run_id       VARCHAR NOT NULL,
    stage        VARCHAR NOT NULL,   -- listen | embed | themes | report
    started_at   TIMESTAMPTZ NOT NULL,
    finished_at  TIMESTAMPTZ,
    status       VARCHAR NOT NULL,   -- running | success | partial | failed
    details      JSON,
    error        VARCHAR,
    PRIMARY KEY (run_id, stage)
);
