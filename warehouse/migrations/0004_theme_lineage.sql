-- earshot warehouse, version 4: stable theme identities across runs (refit or assign, lineage) and
-- signals re-scored when the scorer's configuration changes. The policy lives in models/refit_policy.py,
-- the identity rules in models/identity.py.

-- One row per themes (cluster) run: whether it reclustered everything or assigned new mentions, and why.
CREATE TABLE theme_fits (
    run_id                VARCHAR PRIMARY KEY,  -- the themes run (runs.run_id, stage 'themes')
    mode                  VARCHAR NOT NULL,     -- refit (reclustered every mention) | assign (new mentions joined existing themes)
    reason                VARCHAR NOT NULL,     -- why, in words: "9 days since last refit (every 7)"
    model                 VARCHAR NOT NULL,     -- embedding model of the vectors clustered (embeddings.model)
    settings_fingerprint  VARCHAR NOT NULL,     -- hash of the clustering settings; a change forces a refit ('' = unknown)
    mentions              INTEGER NOT NULL,     -- embedded mentions this run placed (in a theme or not)
    new_mentions          INTEGER NOT NULL,     -- of those, mentions no earlier themes run had placed (or whose text changed)
    assigned_new          INTEGER,              -- assign: new mentions that joined a theme; NULL for a refit
    unassigned            INTEGER NOT NULL,     -- mentions in no theme after this run
    unassigned_share      DOUBLE NOT NULL,      -- unassigned / mentions; a refit's share is the drift baseline
    themes                INTEGER NOT NULL,     -- themes this run
    refit_run_id          VARCHAR NOT NULL,     -- the refit whose themes, labels and centroids this run used (itself for a refit)
    fitted_at             TIMESTAMPTZ NOT NULL  -- the run's logical time (what "days since the last refit" counts from)
);

-- How the themes of one run descend from those of the run before: one row per link.
CREATE TABLE theme_lineage (
    run_id           VARCHAR NOT NULL,  -- the themes run that made the link
    parent_theme_id  VARCHAR NOT NULL,  -- a theme of the previous run; '' when kind = 'new'
    child_theme_id   VARCHAR NOT NULL,  -- a theme of this run; '' when kind = 'retired'
    kind             VARCHAR NOT NULL,  -- continue | merge (child drew >= 30 % of two or more parents' members) |
                                        -- split (parent's members went >= 30 % each to two or more children) | new | retired
    share            DOUBLE NOT NULL,   -- share of the parent's members that went to the child; new: share of the
                                        -- child's members that were in no previous theme; retired: share of the
                                        -- parent's members now in no theme
    PRIMARY KEY (run_id, parent_theme_id, child_theme_id)
);

-- Every theme as a refit left it. Assign runs place new mentions against these (never against centroids
-- that move), by the rule the refit's outliers met (models.clustering.assign): cosine >= min_similarity to
-- the centroid and >= assign_threshold to the reduced centroid. Those floors are settings, and a change of
-- settings forces a refit (theme_fits.settings_fingerprint), so the floors in force are the refit's own.
CREATE TABLE theme_centroids (
    fit_run_id        VARCHAR NOT NULL,  -- the refit run (theme_fits.run_id, mode 'refit')
    theme_id          VARCHAR NOT NULL,  -- themes.theme_id
    centroid          FLOAT[] NOT NULL,  -- unit vector in the embedding space of theme_fits.model
    reduced_centroid  FLOAT[],           -- unit vector in the refit's reduced space (theme_projections); NULL = unknown
    PRIMARY KEY (fit_run_id, theme_id)
);

-- The reduction (PCA) a refit clustered in, kept so assign runs measure new mentions exactly as the refit
-- measured its outliers: reduced = normalise((vector - mean) @ components^T).
CREATE TABLE theme_projections (
    fit_run_id  VARCHAR PRIMARY KEY,  -- the refit run (theme_fits.run_id, mode 'refit')
    mean        FLOAT[] NOT NULL,     -- the corpus mean subtracted first (embedding dimensions); [] = no reduction
    components  FLOAT[] NOT NULL,     -- principal axes, row after row (rows x embedding dimensions values)
    rows        INTEGER NOT NULL      -- how many axes: the reduced space's dimensions (0 = no reduction)
);

-- Which mentions a themes run has already placed (in a theme or left unassigned), so an assign run
-- looks only at the rest. A mention whose text changed is placed again.
CREATE TABLE theme_seen (
    mention_id    VARCHAR PRIMARY KEY,  -- mentions.mention_id
    content_hash  VARCHAR NOT NULL,     -- the version of the text that was placed (mentions.content_hash then)
    first_run_id  VARCHAR NOT NULL      -- the themes run that first placed this version of the text
);

-- Themes runs recorded before this version: the latest becomes the previous run of the next one, so ids
-- carry over by member overlap; its settings are unknown (''), so the next run refits.
INSERT INTO theme_fits
SELECT run_id, 'refit', 'recorded before theme_fits existed', coalesce(details->>'model', ''), '',
       coalesce(TRY_CAST(details->>'mentions' AS INTEGER), 0), coalesce(TRY_CAST(details->>'mentions' AS INTEGER), 0),
       NULL, coalesce(TRY_CAST(details->>'unassigned' AS INTEGER), 0),
       coalesce(TRY_CAST(details->>'noise_share' AS DOUBLE), 0), coalesce(TRY_CAST(details->>'themes' AS INTEGER), 0),
       run_id, started_at
FROM runs WHERE stage = 'themes' AND status = 'success'
ORDER BY finished_at DESC LIMIT 1;
INSERT INTO theme_centroids
SELECT f.run_id, t.theme_id, t.centroid, NULL FROM theme_fits f, themes t WHERE t.active;  -- no projection known

-- Signals carry the fingerprint of the scorer that produced them (its version and the competitor list),
-- so a changed configuration re-scores every mention. Rebuilt (create, copy, swap) rather than altered:
-- DuckDB 1.5 does not reliably commit an ADD COLUMN on an indexed table inside the migration's transaction.
CREATE TABLE mention_signals_v4 (
    mention_id       VARCHAR PRIMARY KEY,
    content_hash     VARCHAR NOT NULL,   -- re-scored when the text changes
    sentiment        DOUBLE NOT NULL,    -- VADER compound, -1 .. 1
    sentiment_label  VARCHAR NOT NULL,   -- positive | negative | neutral
    intents          VARCHAR[] NOT NULL, -- pain, solution_request, advice_request, praise, pricing, competitor
    scored_at        TIMESTAMPTZ NOT NULL,
    scorer           VARCHAR             -- fingerprint of the scorer configuration; NULL = scored before version 4
);
INSERT INTO mention_signals_v4 (mention_id, content_hash, sentiment, sentiment_label, intents, scored_at)
SELECT mention_id, content_hash, sentiment, sentiment_label, intents, scored_at FROM mention_signals;
DROP TABLE mention_signals;
ALTER TABLE mention_signals_v4 RENAME TO mention_signals;
