-- earshot warehouse, version 5: trends per theme and audience, one partition per themes run.
-- Written by earshot.trends.snapshot (maths in models/trends.py); read by hypotheses and reports.
-- A mention counts for every audience that carried it (mention_sources), and once in 'all'.
-- A mention's time is published_at, else first_seen_at (when earshot first heard it).

-- How much each theme was talked about per period, per audience and in all. Periods with no mentions
-- between the slice's first mention and the snapshot's as_of are stored as 0, so charts show gaps.
CREATE TABLE theme_volume (
    run_id        VARCHAR NOT NULL,    -- the themes (cluster) run whose memberships were counted
    theme_id      VARCHAR NOT NULL,
    audience      VARCHAR NOT NULL,    -- an audience key (customers, customers_customers, influencers, ...) or 'all'
    period_start  DATE    NOT NULL,    -- start of the period, UTC (ISO week Monday by default; trends.period)
    mentions      INTEGER NOT NULL,    -- distinct mentions published in the period (published_at, else first_seen_at)
    period        VARCHAR NOT NULL,    -- day | week | month: what period_start is the start of
    PRIMARY KEY (run_id, theme_id, audience, period_start)
);
COMMENT ON TABLE theme_volume IS 'Mentions per period per theme and audience (''all'' = every audience); a partition per themes run';
COMMENT ON COLUMN theme_volume.run_id IS 'The themes run whose theme_members were counted';
COMMENT ON COLUMN theme_volume.audience IS 'An audience key, or ''all'' (each mention once)';
COMMENT ON COLUMN theme_volume.period_start IS 'First UTC day of the period (ISO week Monday, month 1st, or the day)';
COMMENT ON COLUMN theme_volume.mentions IS 'Distinct mentions dated in the period (published_at, else first_seen_at); 0 for quiet periods';
COMMENT ON COLUMN theme_volume.period IS 'day | week | month (trends.period when the snapshot was taken)';

-- One row per themes run x theme x audience that carries the theme, plus 'all'.
CREATE TABLE theme_snapshots (
    run_id              VARCHAR NOT NULL,
    theme_id            VARCHAR NOT NULL,
    audience            VARCHAR NOT NULL,
    as_of               TIMESTAMPTZ NOT NULL, -- end of the recent window (the run's logical time)
    recent_days         INTEGER NOT NULL,     -- length of the recent window (trends.recent_days, default 7)
    baseline_days       INTEGER NOT NULL,     -- length of the baseline window just before it (default 28)
    recent              INTEGER NOT NULL,     -- mentions in the recent window
    baseline            INTEGER NOT NULL,     -- mentions in the baseline window
    total               INTEGER NOT NULL,     -- all mentions of the theme for this audience
    rate_ratio          DOUBLE,               -- recent rate / baseline rate (per day); NULL when baseline = 0
    p_value             DOUBLE NOT NULL,      -- one-sided exact conditional binomial test: recent rate > baseline rate
    p_value_down        DOUBLE NOT NULL,      -- same test, the other direction
    trend               VARCHAR NOT NULL,     -- rising | falling | steady | new | quiet
    emerging            BOOLEAN NOT NULL,     -- see models/trends.py for the rule
    audience_share      DOUBLE NOT NULL,      -- this audience's share of the theme's mentions ('all' -> 1.0)
    audiences           INTEGER NOT NULL,     -- how many audiences carry the theme (same on every row of a theme)
    spread              DOUBLE NOT NULL,      -- normalised entropy of the theme over audiences, 0 (one) .. 1 (even)
    influencer_mentions INTEGER NOT NULL,     -- mentions of the theme by influencer sources / influencer authors
    influencers         VARCHAR[] NOT NULL,   -- who echoes it: influencer source ids and author names, most mentions first
    negative_share      DOUBLE NOT NULL,      -- shares (0..1) of the theme-audience's mentions, from mention_signals
    positive_share      DOUBLE NOT NULL,
    pain_share          DOUBLE NOT NULL,
    solution_request_share DOUBLE NOT NULL,
    advice_request_share   DOUBLE NOT NULL,
    praise_share        DOUBLE NOT NULL,
    pricing_share       DOUBLE NOT NULL,
    competitor_share    DOUBLE NOT NULL,
    first_seen_at       TIMESTAMPTZ NOT NULL, -- the slice's earliest mention time (the emerging rule's age)
    explanation         VARCHAR NOT NULL,     -- the verdict in words: counts, windows, ratio, p-value, rule applied
    PRIMARY KEY (run_id, theme_id, audience)
);
COMMENT ON TABLE theme_snapshots IS 'Trend of each theme per audience (and ''all'') as of a themes run: volume, significance-tested growth, emerging flag, spread, influencer echo, signals';
COMMENT ON COLUMN theme_snapshots.as_of IS 'End of the recent window: the logical time of the run that took the snapshot';
COMMENT ON COLUMN theme_snapshots.recent IS 'Mentions with as_of - recent_days < time <= as_of';
COMMENT ON COLUMN theme_snapshots.baseline IS 'Mentions with as_of - recent_days - baseline_days < time <= as_of - recent_days';
COMMENT ON COLUMN theme_snapshots.total IS 'All mentions of the theme carried by this audience, at any time';
COMMENT ON COLUMN theme_snapshots.rate_ratio IS '(recent / recent_days) / (baseline / baseline_days); NULL when baseline = 0';
COMMENT ON COLUMN theme_snapshots.p_value IS 'P(recent >= observed) under equal rates: recent ~ Binomial(recent + baseline, recent_days / (recent_days + baseline_days))';
COMMENT ON COLUMN theme_snapshots.p_value_down IS 'P(recent <= observed) under equal rates (same binomial)';
COMMENT ON COLUMN theme_snapshots.trend IS 'new (nothing before the recent window) | rising (p_value < alpha, recent >= min_recent) | falling (p_value_down < alpha, >= min_recent expected) | quiet (recent = 0) | steady';
COMMENT ON COLUMN theme_snapshots.emerging IS 'recent >= min_mentions and (new, or rising and first heard within emerging_days, or rising with rate_ratio >= emerging_ratio or no baseline)';
COMMENT ON COLUMN theme_snapshots.audience_share IS 'This audience''s mentions / the theme''s distinct mentions; a mention heard in two audiences counts in both, so shares can sum above 1';
COMMENT ON COLUMN theme_snapshots.audiences IS 'Audiences with at least one mention of the theme';
COMMENT ON COLUMN theme_snapshots.spread IS 'Shannon entropy of the theme''s mentions over audiences / ln(audiences declared in market.yaml): 0 one audience, 1 even over all';
COMMENT ON COLUMN theme_snapshots.influencer_mentions IS 'Mentions in this slice by an influencer source or a named influencer author (mention_sources.influencer, mentions.influencer)';
COMMENT ON COLUMN theme_snapshots.influencers IS 'Influencer source ids (influencer: true sources) and influencer author names, most mentions first, then by name';
COMMENT ON COLUMN theme_snapshots.negative_share IS 'Share of the slice''s scored mentions (mention_signals) labelled negative; 0 when none is scored';
COMMENT ON COLUMN theme_snapshots.pain_share IS 'Share of the slice''s scored mentions whose intents include pain (likewise for the other *_share intent columns)';
COMMENT ON COLUMN theme_snapshots.first_seen_at IS 'Earliest mention time in this slice: the age the emerging rule uses';
COMMENT ON COLUMN theme_snapshots.explanation IS 'Why this trend and emerging flag, in words, with the counts and p-value';
