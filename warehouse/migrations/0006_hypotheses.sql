-- earshot warehouse, version 6: hypotheses proposed from theme snapshots, measured against a frozen baseline.
-- Written by earshot.hypotheses (logic in models/hypotheses.py). One hypothesis per theme and audience: a
-- re-run updates it, never proposes it twice. Status flow: proposed -> testing -> validated | rejected |
-- expired, then handed_off (sales hand-off); every status change is a row in hypothesis_events.

CREATE TABLE hypotheses (
    hypothesis_id       VARCHAR PRIMARY KEY,   -- 'h_' + hash of (theme_id, audience): stable across runs
    theme_id            VARCHAR NOT NULL,      -- themes.theme_id (kept when the theme is retired or merged)
    audience            VARCHAR NOT NULL,      -- an audience key, or 'all'
    audience_label      VARCHAR NOT NULL,      -- how statements name the audience ("MSPs (your customers)")
    theme_label         VARCHAR NOT NULL,      -- the theme's label at the latest update
    rule                VARCHAR NOT NULL,      -- the market.yaml rule that proposed it (hypotheses.rules[].name)
    matched_rules       VARCHAR[] NOT NULL,    -- every rule the latest evidence met, in rule order
    statement           VARCHAR NOT NULL,      -- the hypothesis in plain words, with its figures
    why                 VARCHAR NOT NULL,      -- the rule's checks and every figure behind them
    evidence            JSON NOT NULL,         -- the latest theme_snapshots row that matched (figures)
    baseline            JSON NOT NULL,         -- the snapshot figures when proposed: frozen, the reality basepoint
    baseline_run_id     VARCHAR NOT NULL,      -- the themes run the baseline was measured in
    test_kind           VARCHAR NOT NULL,      -- listening_watch | message_test | survey | content | interview
    test_plan           VARCHAR NOT NULL,      -- what to do, in words
    criteria            JSON NOT NULL,         -- success criteria per test kind (frozen once testing starts)
    criteria_text       VARCHAR NOT NULL,      -- the planned test's criteria in words
    owner               VARCHAR NOT NULL,
    status              VARCHAR NOT NULL,      -- proposed | testing | validated | rejected | expired | handed_off
    status_why          VARCHAR,               -- the latest verdict or progress, in words
    rank_score          DOUBLE NOT NULL,       -- how much it deserves testing first (models.hypotheses.rank)
    rank_reasons        VARCHAR[] NOT NULL,    -- the reasons behind the score, in words
    proposed_at         TIMESTAMPTZ NOT NULL,  -- logical time of the run that proposed it
    proposed_run_id     VARCHAR NOT NULL,      -- the earshot run that proposed it
    updated_at          TIMESTAMPTZ NOT NULL,  -- last change of any kind (evidence, status)
    last_matched_at     TIMESTAMPTZ,           -- the latest run whose evidence still met a rule
    last_matched_run_id VARCHAR,               -- that run's themes run id
    test_started_at     TIMESTAMPTZ,           -- when it entered testing: the test window starts here
    expires_at          TIMESTAMPTZ,           -- end of the test window (criteria.expire_after_days) while testing
    decided_at          TIMESTAMPTZ            -- when it became validated, rejected or expired
);
COMMENT ON TABLE hypotheses IS 'One hypothesis per theme and audience, proposed by a market.yaml rule from theme_snapshots; baseline frozen at proposal';
COMMENT ON COLUMN hypotheses.hypothesis_id IS '''h_'' + sha256(theme_id, audience)[:10]: the same theme and audience always update the same row';
COMMENT ON COLUMN hypotheses.baseline IS 'theme_snapshots figures of the run that proposed it, never updated: what every later run is measured against';
COMMENT ON COLUMN hypotheses.evidence IS 'theme_snapshots figures of the latest run that matched a rule';
COMMENT ON COLUMN hypotheses.criteria IS 'Success criteria per test kind (listening_watch, message_test, content, survey, interview); refreshed from market.yaml while proposed, frozen once testing';
COMMENT ON COLUMN hypotheses.status IS 'proposed | testing | validated | rejected | expired | handed_off; history in hypothesis_events';
COMMENT ON COLUMN hypotheses.rank_score IS 'Momentum + volume + pain/solution demand + spread + influencer echo; higher = test first';

-- The listening re-measured against the baseline: one row per hypothesis per themes run (a partition per run).
CREATE TABLE hypothesis_measurements (
    hypothesis_id       VARCHAR NOT NULL,
    run_id              VARCHAR NOT NULL,      -- the themes run whose theme_snapshots row was measured
    measured_run_id     VARCHAR NOT NULL,      -- the earshot run that measured it
    as_of               TIMESTAMPTZ NOT NULL,  -- the snapshot's as_of: end of its recent window
    recent_days         INTEGER NOT NULL,
    baseline_days       INTEGER NOT NULL,
    recent              INTEGER NOT NULL,      -- mentions in the recent window of this run
    baseline            INTEGER NOT NULL,      -- mentions in this run's own baseline window
    total               INTEGER NOT NULL,
    rate_ratio          DOUBLE,                -- this run's recent rate / its own baseline rate
    p_value             DOUBLE NOT NULL,
    trend               VARCHAR NOT NULL,
    vs_baseline         DOUBLE NOT NULL,       -- this run's recent rate / the FROZEN baseline rate (1.0 = unchanged)
    audience_share      DOUBLE NOT NULL,
    influencer_mentions INTEGER NOT NULL,
    negative_share      DOUBLE NOT NULL,
    pain_share          DOUBLE NOT NULL,
    solution_request_share DOUBLE NOT NULL,
    figures             JSON NOT NULL,         -- the whole snapshot row, as stored in hypotheses.evidence
    PRIMARY KEY (hypothesis_id, run_id)
);
COMMENT ON TABLE hypothesis_measurements IS 'The series: each hypothesis re-measured in every themes run that carries its theme and audience';
COMMENT ON COLUMN hypothesis_measurements.vs_baseline IS '(recent / recent_days) / (baseline at proposal / its baseline_days); an empty baseline counts as half a mention';

-- Results of tests marketing ran and recorded (earshot hypotheses record, the earshot_hypotheses_record DAG).
CREATE TABLE hypothesis_results (
    result_id           VARCHAR PRIMARY KEY,   -- 'r_' + hash; an Airflow run records at most one result
    hypothesis_id       VARCHAR NOT NULL,
    kind                VARCHAR NOT NULL,      -- message_test | survey | content | interview
    metric              VARCHAR NOT NULL,      -- what was measured: reply_rate, click_rate, agree ...
    value               DOUBLE NOT NULL,       -- the tested rate or share, 0..1
    sample              INTEGER NOT NULL,      -- how many were reached or asked
    control             DOUBLE,                -- the control group's rate (message test, content)
    control_sample      INTEGER,               -- the control group's size (default: sample)
    note                VARCHAR NOT NULL DEFAULT '',
    recorded_by         VARCHAR NOT NULL,
    recorded_at         TIMESTAMPTZ NOT NULL,
    source              VARCHAR NOT NULL,      -- cli | airflow | api
    source_run_id       VARCHAR,               -- the Airflow run that recorded it
    verdict             VARCHAR NOT NULL,      -- validated | rejected | inconclusive, by the frozen criteria
    verdict_why         VARCHAR NOT NULL       -- the verdict in words: rates, sample, lift, p-value
);
COMMENT ON TABLE hypothesis_results IS 'Test results recorded by marketing, each judged by the hypothesis''s success criteria for its kind';

-- Every status change: when, by whom, why. Written only when the status actually changes.
CREATE TABLE hypothesis_events (
    hypothesis_id       VARCHAR NOT NULL,
    seq                 INTEGER NOT NULL,      -- 1, 2, 3 ... per hypothesis
    changed_at          TIMESTAMPTZ NOT NULL,
    from_status         VARCHAR,               -- NULL when proposed
    to_status           VARCHAR NOT NULL,
    changed_by          VARCHAR NOT NULL,      -- a person's name, or 'earshot' for automatic changes
    why                 VARCHAR NOT NULL,
    manual              BOOLEAN NOT NULL,      -- set by hand (earshot hypotheses set-status)
    run_id              VARCHAR,               -- the earshot or Airflow run that made the change
    PRIMARY KEY (hypothesis_id, seq)
);
COMMENT ON TABLE hypothesis_events IS 'Status history of each hypothesis: from, to, when, by whom and why';

-- Quotes with links behind each hypothesis, from its audience; replaced when its evidence is updated.
CREATE TABLE hypothesis_quotes (
    hypothesis_id       VARCHAR NOT NULL,
    rank                INTEGER NOT NULL,      -- 0 = most central to the theme
    mention_id          VARCHAR NOT NULL,      -- mentions.mention_id (text, url, author there)
    run_id              VARCHAR NOT NULL,      -- the themes run it was picked from
    PRIMARY KEY (hypothesis_id, rank)
);
COMMENT ON TABLE hypothesis_quotes IS 'Representative quotes of a hypothesis''s theme among its audience, links first, at most two per source';
