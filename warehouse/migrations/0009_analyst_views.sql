-- earshot warehouse, version 9: stable views for analysts, and a comment on every table and column.

-- The themes run whose results the views show: the latest one that succeeded.
CREATE VIEW latest_themes_run AS
SELECT run_id, finished_at FROM runs WHERE stage = 'themes' AND status = 'success'
ORDER BY finished_at DESC LIMIT 1;

CREATE VIEW mentions_enriched AS
SELECT m.mention_id, m.published_at, m.first_seen_at, m.source_id, s.name AS source_name, s.kind AS source_kind,
       m.audience,
       (SELECT list(DISTINCT ms.audience ORDER BY ms.audience) FROM mention_sources ms
        WHERE ms.mention_id = m.mention_id) AS audiences,
       m.influencer, m.author, m.title, m.text, m.url, m.kind, m.score, m.comments, m.rating,
       tm.theme_id, t.label AS theme_label, tm.similarity AS theme_similarity,
       sig.sentiment, sig.sentiment_label, coalesce(sig.intents, []) AS intents
FROM mentions m
LEFT JOIN sources s USING (source_id)
LEFT JOIN theme_members tm ON tm.mention_id = m.mention_id AND tm.run_id = (SELECT run_id FROM latest_themes_run)
LEFT JOIN themes t ON t.theme_id = tm.theme_id
LEFT JOIN mention_signals sig ON sig.mention_id = m.mention_id;

CREATE VIEW theme_trends AS
SELECT v.theme_id, t.label AS theme_label, v.audience, v.period_start, v.mentions,
       snap.recent, snap.baseline, snap.rate_ratio, snap.p_value, snap.trend, snap.emerging, snap.spread,
       snap.influencer_mentions, snap.as_of, v.run_id
FROM theme_volume v
JOIN themes t USING (theme_id)
LEFT JOIN theme_snapshots snap ON snap.run_id = v.run_id AND snap.theme_id = v.theme_id AND snap.audience = v.audience
WHERE v.run_id = (SELECT run_id FROM latest_themes_run);

CREATE VIEW hypotheses_evidence AS
SELECT h.hypothesis_id, h.status, h.status_why, h.audience, h.audience_label, h.theme_id, h.theme_label,
       h.statement, h.why, h.test_kind, h.test_plan, h.criteria_text, h.owner, h.rank_score, h.rank_reasons,
       h.baseline, h.proposed_at, h.test_started_at, h.expires_at, h.decided_at,
       latest.vs_baseline AS latest_vs_baseline, latest.recent AS latest_recent, latest.p_value AS latest_p_value,
       latest.as_of AS latest_as_of,
       (SELECT count(*) FROM hypothesis_measurements hm WHERE hm.hypothesis_id = h.hypothesis_id) AS measurements,
       (SELECT count(*) FROM hypothesis_results r WHERE r.hypothesis_id = h.hypothesis_id) AS results,
       (SELECT list({'at': e.changed_at, 'from': e.from_status, 'to': e.to_status, 'by': e.changed_by, 'why': e.why}
                    ORDER BY e.seq)
        FROM hypothesis_events e WHERE e.hypothesis_id = h.hypothesis_id) AS status_history
FROM hypotheses h
LEFT JOIN (
    SELECT * FROM hypothesis_measurements
    QUALIFY row_number() OVER (PARTITION BY hypothesis_id ORDER BY as_of DESC, run_id DESC) = 1
) latest USING (hypothesis_id);

-- What every view, table and column means (earshot dictionary renders these).
COMMENT ON VIEW latest_themes_run IS 'The themes run the analyst views show: the latest that succeeded.';
COMMENT ON COLUMN latest_themes_run.run_id IS 'Its run id.';
COMMENT ON COLUMN latest_themes_run.finished_at IS 'When it finished (UTC).';
COMMENT ON VIEW mentions_enriched IS 'Every mention with its source, all audiences that carried it, its theme in the latest themes run and its signals: the first view to query.';
COMMENT ON COLUMN mentions_enriched.mention_id IS 'Stable id of the conversation.';
COMMENT ON COLUMN mentions_enriched.published_at IS 'When it was said (UTC), as the source dates it.';
COMMENT ON COLUMN mentions_enriched.first_seen_at IS 'When earshot first heard it (UTC).';
COMMENT ON COLUMN mentions_enriched.source_id IS 'Source that first carried it.';
COMMENT ON COLUMN mentions_enriched.source_name IS 'That source''s name from market.yaml.';
COMMENT ON COLUMN mentions_enriched.source_kind IS 'feed | reddit | hackernews | appstore | filedrop.';
COMMENT ON COLUMN mentions_enriched.audience IS 'Audience of the first source.';
COMMENT ON COLUMN mentions_enriched.audiences IS 'Every audience that carried it.';
COMMENT ON COLUMN mentions_enriched.influencer IS 'Said by an influencer.';
COMMENT ON COLUMN mentions_enriched.author IS 'Author or handle.';
COMMENT ON COLUMN mentions_enriched.title IS 'Title, when there is one.';
COMMENT ON COLUMN mentions_enriched.text IS 'The text (scraped: untrusted).';
COMMENT ON COLUMN mentions_enriched.url IS 'Link to where it was said.';
COMMENT ON COLUMN mentions_enriched.kind IS 'article | post | comment | story | review | row.';
COMMENT ON COLUMN mentions_enriched.score IS 'Votes or points.';
COMMENT ON COLUMN mentions_enriched.comments IS 'Comment count.';
COMMENT ON COLUMN mentions_enriched.rating IS 'Review stars (1-5).';
COMMENT ON COLUMN mentions_enriched.theme_id IS 'Its theme in the latest themes run; NULL when unassigned.';
COMMENT ON COLUMN mentions_enriched.theme_label IS 'That theme''s label.';
COMMENT ON COLUMN mentions_enriched.theme_similarity IS 'Cosine similarity to the theme''s centroid.';
COMMENT ON COLUMN mentions_enriched.sentiment IS 'VADER compound score, -1 .. 1.';
COMMENT ON COLUMN mentions_enriched.sentiment_label IS 'positive | negative | neutral.';
COMMENT ON COLUMN mentions_enriched.intents IS 'pain, solution_request, advice_request, praise, pricing, competitor.';
COMMENT ON VIEW theme_trends IS 'Volume per period for each theme and audience (''all'' included) in the latest themes run, with that slice''s growth, significance and emerging flag.';
COMMENT ON COLUMN theme_trends.theme_id IS 'The theme.';
COMMENT ON COLUMN theme_trends.theme_label IS 'Its label.';
COMMENT ON COLUMN theme_trends.audience IS 'An audience key, or ''all''.';
COMMENT ON COLUMN theme_trends.period_start IS 'Start of the period (ISO week, Monday).';
COMMENT ON COLUMN theme_trends.mentions IS 'Mentions published in the period.';
COMMENT ON COLUMN theme_trends.recent IS 'Mentions in the recent window (7 days by default).';
COMMENT ON COLUMN theme_trends.baseline IS 'Mentions in the baseline window before it (28 days by default).';
COMMENT ON COLUMN theme_trends.rate_ratio IS 'Recent rate / baseline rate, per day; NULL when the baseline is empty.';
COMMENT ON COLUMN theme_trends.p_value IS 'One-sided exact test that the recent rate exceeds the baseline rate.';
COMMENT ON COLUMN theme_trends.trend IS 'rising | falling | steady | new | quiet.';
COMMENT ON COLUMN theme_trends.emerging IS 'Flagged emerging (see models/trends.py).';
COMMENT ON COLUMN theme_trends.spread IS 'How evenly the theme spreads over audiences, 0 .. 1.';
COMMENT ON COLUMN theme_trends.influencer_mentions IS 'Mentions by influencers.';
COMMENT ON COLUMN theme_trends.as_of IS 'End of the recent window.';
COMMENT ON COLUMN theme_trends.run_id IS 'The themes run measured.';
COMMENT ON VIEW hypotheses_evidence IS 'Each hypothesis with its status, baseline, latest measurement against the baseline and full status history.';
COMMENT ON COLUMN hypotheses_evidence.hypothesis_id IS 'Stable id per theme and audience.';
COMMENT ON COLUMN hypotheses_evidence.status IS 'proposed | testing | validated | rejected | expired | handed_off.';
COMMENT ON COLUMN hypotheses_evidence.status_why IS 'The latest verdict or progress, in words.';
COMMENT ON COLUMN hypotheses_evidence.audience IS 'Audience key.';
COMMENT ON COLUMN hypotheses_evidence.audience_label IS 'How statements name the audience.';
COMMENT ON COLUMN hypotheses_evidence.theme_id IS 'The theme.';
COMMENT ON COLUMN hypotheses_evidence.theme_label IS 'Its label.';
COMMENT ON COLUMN hypotheses_evidence.statement IS 'The hypothesis in plain words.';
COMMENT ON COLUMN hypotheses_evidence.why IS 'The figures behind it.';
COMMENT ON COLUMN hypotheses_evidence.test_kind IS 'listening_watch | message_test | survey | content | interview.';
COMMENT ON COLUMN hypotheses_evidence.test_plan IS 'What to do.';
COMMENT ON COLUMN hypotheses_evidence.criteria_text IS 'Success criteria in words.';
COMMENT ON COLUMN hypotheses_evidence.owner IS 'Who drives the test.';
COMMENT ON COLUMN hypotheses_evidence.rank_score IS 'How much it deserves testing first.';
COMMENT ON COLUMN hypotheses_evidence.rank_reasons IS 'The reasons behind the rank.';
COMMENT ON COLUMN hypotheses_evidence.baseline IS 'Figures when proposed (frozen).';
COMMENT ON COLUMN hypotheses_evidence.proposed_at IS 'When proposed.';
COMMENT ON COLUMN hypotheses_evidence.test_started_at IS 'When testing started.';
COMMENT ON COLUMN hypotheses_evidence.expires_at IS 'End of the test window.';
COMMENT ON COLUMN hypotheses_evidence.decided_at IS 'When validated, rejected or expired.';
COMMENT ON COLUMN hypotheses_evidence.latest_vs_baseline IS 'Latest recent rate / the frozen baseline rate (1.0 = unchanged).';
COMMENT ON COLUMN hypotheses_evidence.latest_recent IS 'Latest recent-window mentions.';
COMMENT ON COLUMN hypotheses_evidence.latest_p_value IS 'Latest p-value of the rate test.';
COMMENT ON COLUMN hypotheses_evidence.latest_as_of IS 'When the latest measurement''s window ended.';
COMMENT ON COLUMN hypotheses_evidence.measurements IS 'Runs that measured it.';
COMMENT ON COLUMN hypotheses_evidence.results IS 'Test results recorded.';
COMMENT ON COLUMN hypotheses_evidence.status_history IS 'Every status change: at, from, to, by, why.';
COMMENT ON COLUMN deliveries.channel IS 'email | webhook';
COMMENT ON COLUMN deliveries.first_tried_at IS 'when the first try started';
COMMENT ON COLUMN deliveries.report_at IS 'the report''s logical time (its run''s run_at): the {date} of the subject';
COMMENT ON COLUMN deliveries.report_html IS 'path of the HTML report sent (read, never modified)';
COMMENT ON COLUMN deliveries.report_md IS 'path of its Markdown twin';
COMMENT ON COLUMN deliveries.run_id IS 'the report run (runs.run_id, stage ''report'') being delivered';
COMMENT ON COLUMN deliveries.sent_at IS 'when the target accepted it';
COMMENT ON COLUMN deliveries.summary IS 'the report summary the webhook message is built from';
COMMENT ON COLUMN deliveries.updated_at IS 'when this row last changed';
COMMENT ON TABLE embeddings IS 'One vector per distinct text and embedding model: the cache that makes re-clustering cost only clustering.';
COMMENT ON COLUMN embeddings.content_hash IS 'Hash of the mention text (mentions.content_hash): a text is embedded once, whatever mentions share it.';
COMMENT ON COLUMN embeddings.created_at IS 'When the vector was computed (UTC).';
COMMENT ON COLUMN embeddings.dims IS 'Length of the vector (384 for all-MiniLM-L6-v2).';
COMMENT ON COLUMN embeddings.model IS 'Embedding model name the vector belongs to; backends that differ slightly (torch, onnx) never share vectors.';
COMMENT ON COLUMN embeddings.vector IS 'Unit-length embedding (cosine similarity = dot product).';
COMMENT ON TABLE fetches IS 'One row per source per listen run: what the fetch brought back, or why it failed.';
COMMENT ON COLUMN fetches.attempts IS 'HTTP attempts within the run (in-run retries of timeouts, 5xx and 429 included).';
COMMENT ON COLUMN fetches.duration_s IS 'Seconds the fetch took, retries included.';
COMMENT ON COLUMN fetches.error IS 'The error in words, naming the source and the problem; NULL when it succeeded.';
COMMENT ON COLUMN fetches.error_kind IS 'Error class: timeout, connection, http_4xx, http_5xx, too_large, redirect_loop, not_a_feed, malformed, auth, truncated.';
COMMENT ON COLUMN fetches.fetched_at IS 'When the fetch finished (UTC).';
COMMENT ON COLUMN fetches.http_status IS 'Last HTTP status seen (304 = not modified).';
COMMENT ON COLUMN fetches.items IS 'Items the source carried this run.';
COMMENT ON COLUMN fetches.landing_path IS 'Where the raw payload was kept in the landing zone (for replay).';
COMMENT ON COLUMN fetches.new_items IS 'Items never seen before.';
COMMENT ON COLUMN fetches.payloads IS 'Raw payloads landed by this fetch (pages, listings).';
COMMENT ON COLUMN fetches.run_id IS 'The listen run.';
COMMENT ON COLUMN fetches.source_id IS 'The source (sources.source_id).';
COMMENT ON COLUMN fetches.status IS 'ok | not_modified | warning | error';
COMMENT ON COLUMN fetches.warning IS 'A problem that did not stop the load (e.g. a malformed feed that still had entries).';
COMMENT ON COLUMN hypotheses.audience IS 'an audience key, or ''all''';
COMMENT ON COLUMN hypotheses.audience_label IS 'how statements name the audience ("MSPs (your customers)")';
COMMENT ON COLUMN hypotheses.baseline_run_id IS 'the themes run the baseline was measured in';
COMMENT ON COLUMN hypotheses.criteria_text IS 'the planned test''s criteria in words';
COMMENT ON COLUMN hypotheses.decided_at IS 'when it became validated, rejected or expired';
COMMENT ON COLUMN hypotheses.expires_at IS 'end of the test window (criteria.expire_after_days) while testing';
COMMENT ON COLUMN hypotheses.last_matched_at IS 'the latest run whose evidence still met a rule';
COMMENT ON COLUMN hypotheses.last_matched_run_id IS 'that run''s themes run id';
COMMENT ON COLUMN hypotheses.matched_rules IS 'every rule the latest evidence met, in rule order';
COMMENT ON COLUMN hypotheses.owner IS 'Who drives the test (hypotheses.owner in market.yaml, or the rule''s owner).';
COMMENT ON COLUMN hypotheses.proposed_at IS 'logical time of the run that proposed it';
COMMENT ON COLUMN hypotheses.proposed_run_id IS 'the earshot run that proposed it';
COMMENT ON COLUMN hypotheses.rank_reasons IS 'the reasons behind the score, in words';
COMMENT ON COLUMN hypotheses.rule IS 'the market.yaml rule that proposed it (hypotheses.rules[].name)';
COMMENT ON COLUMN hypotheses.statement IS 'the hypothesis in plain words, with its figures';
COMMENT ON COLUMN hypotheses.status_why IS 'the latest verdict or progress, in words';
COMMENT ON COLUMN hypotheses.test_kind IS 'listening_watch | message_test | survey | content | interview';
COMMENT ON COLUMN hypotheses.test_plan IS 'what to do, in words';
COMMENT ON COLUMN hypotheses.test_started_at IS 'when it entered testing: the test window starts here';
COMMENT ON COLUMN hypotheses.theme_id IS 'themes.theme_id (kept when the theme is retired or merged)';
COMMENT ON COLUMN hypotheses.theme_label IS 'the theme''s label at the latest update';
COMMENT ON COLUMN hypotheses.updated_at IS 'last change of any kind (evidence, status)';
COMMENT ON COLUMN hypotheses.why IS 'the rule''s checks and every figure behind them';
COMMENT ON COLUMN hypothesis_events.changed_at IS 'When the status changed (the run''s logical time, or when a person changed it).';
COMMENT ON COLUMN hypothesis_events.changed_by IS 'a person''s name, or ''earshot'' for automatic changes';
COMMENT ON COLUMN hypothesis_events.from_status IS 'NULL when proposed';
COMMENT ON COLUMN hypothesis_events.hypothesis_id IS 'The hypothesis (hypotheses.hypothesis_id).';
COMMENT ON COLUMN hypothesis_events.manual IS 'set by hand (earshot hypotheses set-status)';
COMMENT ON COLUMN hypothesis_events.run_id IS 'the earshot or Airflow run that made the change';
COMMENT ON COLUMN hypothesis_events.seq IS '1, 2, 3 ... per hypothesis';
COMMENT ON COLUMN hypothesis_events.to_status IS 'Status after the change.';
COMMENT ON COLUMN hypothesis_events.why IS 'Why, in words: the verdict with its figures, or what the person said.';
COMMENT ON COLUMN hypothesis_measurements.as_of IS 'the snapshot''s as_of: end of its recent window';
COMMENT ON COLUMN hypothesis_measurements.audience_share IS 'The audience''s share of the theme''s mentions in this run.';
COMMENT ON COLUMN hypothesis_measurements.baseline IS 'mentions in this run''s own baseline window';
COMMENT ON COLUMN hypothesis_measurements.baseline_days IS 'Length of this run''s baseline window (days).';
COMMENT ON COLUMN hypothesis_measurements.figures IS 'the whole snapshot row, as stored in hypotheses.evidence';
COMMENT ON COLUMN hypothesis_measurements.hypothesis_id IS 'The hypothesis (hypotheses.hypothesis_id).';
COMMENT ON COLUMN hypothesis_measurements.influencer_mentions IS 'Mentions of the theme by influencer sources or authors in this run.';
COMMENT ON COLUMN hypothesis_measurements.measured_run_id IS 'the earshot run that measured it';
COMMENT ON COLUMN hypothesis_measurements.negative_share IS 'Share of the slice''s mentions with negative sentiment.';
COMMENT ON COLUMN hypothesis_measurements.p_value IS 'One-sided exact test that this run''s recent rate exceeds its own baseline rate.';
COMMENT ON COLUMN hypothesis_measurements.pain_share IS 'Share of the slice''s mentions describing pain or a complaint.';
COMMENT ON COLUMN hypothesis_measurements.rate_ratio IS 'this run''s recent rate / its own baseline rate';
COMMENT ON COLUMN hypothesis_measurements.recent IS 'mentions in the recent window of this run';
COMMENT ON COLUMN hypothesis_measurements.recent_days IS 'Length of this run''s recent window (days).';
COMMENT ON COLUMN hypothesis_measurements.run_id IS 'the themes run whose theme_snapshots row was measured';
COMMENT ON COLUMN hypothesis_measurements.solution_request_share IS 'Share of the slice''s mentions asking for a solution.';
COMMENT ON COLUMN hypothesis_measurements.total IS 'All mentions of the theme for this audience at this run.';
COMMENT ON COLUMN hypothesis_measurements.trend IS 'rising | falling | steady | new | quiet, as the snapshot classified it.';
COMMENT ON COLUMN hypothesis_quotes.hypothesis_id IS 'The hypothesis (hypotheses.hypothesis_id).';
COMMENT ON COLUMN hypothesis_quotes.mention_id IS 'mentions.mention_id (text, url, author there)';
COMMENT ON COLUMN hypothesis_quotes.rank IS '0 = most central to the theme';
COMMENT ON COLUMN hypothesis_quotes.run_id IS 'the themes run it was picked from';
COMMENT ON COLUMN hypothesis_results.control IS 'the control group''s rate (message test, content)';
COMMENT ON COLUMN hypothesis_results.control_sample IS 'the control group''s size (default: sample)';
COMMENT ON COLUMN hypothesis_results.hypothesis_id IS 'The hypothesis the test was about.';
COMMENT ON COLUMN hypothesis_results.kind IS 'message_test | survey | content | interview';
COMMENT ON COLUMN hypothesis_results.metric IS 'what was measured: reply_rate, click_rate, agree ...';
COMMENT ON COLUMN hypothesis_results.note IS 'Anything the marketer kept with the result.';
COMMENT ON COLUMN hypothesis_results.recorded_at IS 'When the result was recorded.';
COMMENT ON COLUMN hypothesis_results.recorded_by IS 'Who ran or recorded the test.';
COMMENT ON COLUMN hypothesis_results.result_id IS '''r_'' + hash; an Airflow run records at most one result';
COMMENT ON COLUMN hypothesis_results.sample IS 'how many were reached or asked';
COMMENT ON COLUMN hypothesis_results.source IS 'cli | airflow | api';
COMMENT ON COLUMN hypothesis_results.source_run_id IS 'the Airflow run that recorded it';
COMMENT ON COLUMN hypothesis_results.value IS 'the tested rate or share, 0..1';
COMMENT ON COLUMN hypothesis_results.verdict IS 'validated | rejected | inconclusive, by the frozen criteria';
COMMENT ON COLUMN hypothesis_results.verdict_why IS 'the verdict in words: rates, sample, lift, p-value';
COMMENT ON TABLE mention_signals IS 'What each mention signals: sentiment (VADER) and the intents marketing acts on; re-scored when its text or the scorer changes.';
COMMENT ON COLUMN mention_signals.content_hash IS 're-scored when the text changes';
COMMENT ON COLUMN mention_signals.intents IS 'pain, solution_request, advice_request, praise, pricing, competitor';
COMMENT ON COLUMN mention_signals.mention_id IS 'The mention (mentions.mention_id).';
COMMENT ON COLUMN mention_signals.scored_at IS 'When it was scored (UTC).';
COMMENT ON COLUMN mention_signals.scorer IS 'Fingerprint of the scorer (rules version + competitor list): a change re-scores every mention.';
COMMENT ON COLUMN mention_signals.sentiment IS 'VADER compound, -1 .. 1';
COMMENT ON COLUMN mention_signals.sentiment_label IS 'positive | negative | neutral';
COMMENT ON TABLE mention_sources IS 'Provenance: every source item that carried a conversation. A mention heard from two sources (same URL, or near-identical text) is one row in mentions and two here.';
COMMENT ON COLUMN mention_sources.audience IS 'Audience of the source that carried it.';
COMMENT ON COLUMN mention_sources.author IS 'Author as that source gave it.';
COMMENT ON COLUMN mention_sources.first_seen_at IS 'When this source first carried it (UTC).';
COMMENT ON COLUMN mention_sources.first_seen_run IS 'Run in which this source first carried it.';
COMMENT ON COLUMN mention_sources.influencer IS 'This source or author is an influencer (market.yaml influencer / influencer_authors).';
COMMENT ON COLUMN mention_sources.item_id IS 'the item''s own id within its source';
COMMENT ON COLUMN mention_sources.last_seen_at IS 'When this source last carried it (UTC).';
COMMENT ON COLUMN mention_sources.last_seen_run IS 'Run in which this source last carried it.';
COMMENT ON COLUMN mention_sources.mention_id IS 'the conversation it belongs to';
COMMENT ON COLUMN mention_sources.source_id IS 'The source (sources.source_id).';
COMMENT ON COLUMN mention_sources.url IS 'Link to the item at this source.';
COMMENT ON TABLE mentions IS 'One row per conversation heard, whichever sources carried it (mention_sources has one row per source). Text is scraped: untrusted.';
COMMENT ON COLUMN mentions.audience IS 'Audience of the source that first carried it; mention_sources lists every audience that heard it.';
COMMENT ON COLUMN mentions.author IS 'Author or handle, as the source gave it.';
COMMENT ON COLUMN mentions.canonical_url IS 'URL without tracking parameters, www or trailing slash: how the same conversation is recognised across sources.';
COMMENT ON COLUMN mentions.comments IS 'Comment count where the source gives one (Reddit, Hacker News).';
COMMENT ON COLUMN mentions.content_hash IS 'Hash of title and text: keys the embedding cache and re-scoring when the text changes.';
COMMENT ON COLUMN mentions.first_seen_at IS 'When earshot first heard it (UTC).';
COMMENT ON COLUMN mentions.first_seen_run IS 'Run that first heard it.';
COMMENT ON COLUMN mentions.flags IS 'Markers such as nsfw or removed, when the source''s settings keep such items.';
COMMENT ON COLUMN mentions.influencer IS 'Said by an influencer (source or author).';
COMMENT ON COLUMN mentions.kind IS 'article | post | comment | story | review | row.';
COMMENT ON COLUMN mentions.last_seen_at IS 'When earshot last heard it (UTC).';
COMMENT ON COLUMN mentions.last_seen_run IS 'Run that last heard it.';
COMMENT ON COLUMN mentions.mention_id IS 'Stable id of the conversation (from the source''s id or canonical URL): loading it again updates, never duplicates.';
COMMENT ON COLUMN mentions.near_key IS 'Normalised words (8 or more): the same words heard from two sources are one mention.';
COMMENT ON COLUMN mentions.parent_id IS 'The post a comment answers (mention_id), for threaded sources.';
COMMENT ON COLUMN mentions.published_at IS 'When it was said, as the source dates it (UTC); NULL when the source gives no date.';
COMMENT ON COLUMN mentions.rating IS 'Star rating for reviews (1-5).';
COMMENT ON COLUMN mentions.score IS 'Votes or points where the source gives them.';
COMMENT ON COLUMN mentions.source_id IS 'the source that first carried the conversation';
COMMENT ON COLUMN mentions.text IS 'The text, HTML stripped. Scraped: treat as untrusted.';
COMMENT ON COLUMN mentions.title IS 'Title or subject, when there is one.';
COMMENT ON COLUMN mentions.url IS 'Link to where it was said.';
COMMENT ON TABLE runs IS 'One row per run and stage: when, status and a small JSON of what it did (the bookkeeping Airflow''s UI also shows).';
COMMENT ON COLUMN runs.details IS 'What the stage did, as JSON: counts, paths, mode and reason (themes), errors per source (listen).';
COMMENT ON COLUMN runs.error IS 'Why the stage failed, when it did (also written by the Airflow failure callback).';
COMMENT ON COLUMN runs.finished_at IS 'When the stage finished (UTC); NULL while running.';
COMMENT ON COLUMN runs.run_id IS 'Airflow run id (or cli__<time> for `earshot run`): every stage of one run shares it.';
COMMENT ON COLUMN runs.stage IS 'listen | embed | themes | report';
COMMENT ON COLUMN runs.started_at IS 'The run''s logical time (UTC).';
COMMENT ON COLUMN runs.status IS 'running | success | partial | failed';
COMMENT ON VIEW source_health IS 'Source health at a glance. A source that has failed 3 runs in a row is ''failing'': flagged loudly.';
COMMENT ON COLUMN source_health.audience IS 'Audience the source speaks for.';
COMMENT ON COLUMN source_health.consecutive_failures IS 'Failed runs in a row (0 after a success).';
COMMENT ON COLUMN source_health.enabled IS 'Listed and enabled in market.yaml.';
COMMENT ON COLUMN source_health.items_last_run IS 'Items the last run brought.';
COMMENT ON COLUMN source_health.items_recent_runs IS 'Items per run, newest first, last 10 runs.';
COMMENT ON COLUMN source_health.items_total IS 'Items ever carried (provenance rows).';
COMMENT ON COLUMN source_health.kind IS 'feed | reddit | hackernews | appstore | filedrop.';
COMMENT ON COLUMN source_health.last_error IS 'Last error in words.';
COMMENT ON COLUMN source_health.last_error_kind IS 'Last error class (see fetches.error_kind).';
COMMENT ON COLUMN source_health.last_fetch_at IS 'Last fetch attempt (UTC).';
COMMENT ON COLUMN source_health.last_success_at IS 'Last successful fetch (UTC).';
COMMENT ON COLUMN source_health.name IS 'Human name from market.yaml.';
COMMENT ON COLUMN source_health.source_id IS 'The source id from market.yaml.';
COMMENT ON COLUMN source_health.status IS 'ok | not_modified | warning | error | failing (3+ failures in a row) | never fetched.';
COMMENT ON TABLE sources IS 'Every source in market.yaml: kind, audience, incremental state (cursor) and health, updated by each listen run.';
COMMENT ON COLUMN sources.audience IS 'Audience the source speaks for: customers, customers_customers or influencers.';
COMMENT ON COLUMN sources.consecutive_failures IS 'Failed runs in a row (0 after a success); 3 or more = failing.';
COMMENT ON COLUMN sources.cursor IS 'Incremental state (ETag, Last-Modified, high-water marks), committed with the rows it describes.';
COMMENT ON COLUMN sources.enabled IS 'Listed and enabled in market.yaml (sources removed from the plan are kept, disabled).';
COMMENT ON COLUMN sources.influencer IS 'The voice behind this source is an influencer.';
COMMENT ON COLUMN sources.items_last_run IS 'Items the last run brought.';
COMMENT ON COLUMN sources.kind IS 'feed | reddit | hackernews | appstore | filedrop.';
COMMENT ON COLUMN sources.last_error IS 'Last error in words, naming the source and the problem.';
COMMENT ON COLUMN sources.last_error_kind IS 'Last error class (see fetches.error_kind).';
COMMENT ON COLUMN sources.last_fetch_at IS 'Last fetch attempt (UTC).';
COMMENT ON COLUMN sources.last_status IS 'Status of the last fetch: ok | not_modified | warning | error.';
COMMENT ON COLUMN sources.last_success_at IS 'Last successful fetch (UTC).';
COMMENT ON COLUMN sources.name IS 'Human name from market.yaml.';
COMMENT ON COLUMN sources.source_id IS 'The id from market.yaml.';
COMMENT ON COLUMN sources.updated_at IS 'When this row last changed (UTC).';
COMMENT ON COLUMN sources.url IS 'Where it listens: the URL, subreddits, queries, app or folder.';
COMMENT ON TABLE theme_centroids IS 'Every theme as a refit left it. Assign runs place new mentions against these (never against centroids that move), by the rule the refit''s outliers met (models.clustering.assign): cosine >= min_similarity to the centroid and >= assign_threshold to the reduced centroid. Those floors are settings, and a change of settings forces a refit (theme_fits.settings_fingerprint), so the floors in force are the refit''s own.';
COMMENT ON COLUMN theme_centroids.centroid IS 'unit vector in the embedding space of theme_fits.model';
COMMENT ON COLUMN theme_centroids.fit_run_id IS 'the refit run (theme_fits.run_id, mode ''refit'')';
COMMENT ON COLUMN theme_centroids.reduced_centroid IS 'unit vector in the refit''s reduced space (theme_projections); NULL = unknown';
COMMENT ON COLUMN theme_centroids.theme_id IS 'themes.theme_id';
COMMENT ON TABLE theme_fits IS 'One row per themes (cluster) run: whether it reclustered everything or assigned new mentions, and why.';
COMMENT ON COLUMN theme_fits.assigned_new IS 'assign: new mentions that joined a theme; NULL for a refit';
COMMENT ON COLUMN theme_fits.fitted_at IS 'the run''s logical time (what "days since the last refit" counts from)';
COMMENT ON COLUMN theme_fits.mentions IS 'embedded mentions this run placed (in a theme or not)';
COMMENT ON COLUMN theme_fits.mode IS 'refit (reclustered every mention) | assign (new mentions joined existing themes)';
COMMENT ON COLUMN theme_fits.model IS 'embedding model of the vectors clustered (embeddings.model)';
COMMENT ON COLUMN theme_fits.new_mentions IS 'of those, mentions no earlier themes run had placed (or whose text changed)';
COMMENT ON COLUMN theme_fits.reason IS 'why, in words: "9 days since last refit (every 7)"';
COMMENT ON COLUMN theme_fits.refit_run_id IS 'the refit whose themes, labels and centroids this run used (itself for a refit)';
COMMENT ON COLUMN theme_fits.run_id IS 'the themes run (runs.run_id, stage ''themes'')';
COMMENT ON COLUMN theme_fits.settings_fingerprint IS 'hash of the clustering settings; a change forces a refit ('''' = unknown)';
COMMENT ON COLUMN theme_fits.themes IS 'themes this run';
COMMENT ON COLUMN theme_fits.unassigned IS 'mentions in no theme after this run';
COMMENT ON COLUMN theme_fits.unassigned_share IS 'unassigned / mentions; a refit''s share is the drift baseline';
COMMENT ON TABLE theme_lineage IS 'How the themes of one run descend from those of the run before: one row per link.';
COMMENT ON COLUMN theme_lineage.child_theme_id IS 'a theme of this run; '''' when kind = ''retired''';
COMMENT ON COLUMN theme_lineage.kind IS 'continue | merge (child drew >= 30 % of two or more parents'' members) |';
COMMENT ON COLUMN theme_lineage.parent_theme_id IS 'a theme of the previous run; '''' when kind = ''new''';
COMMENT ON COLUMN theme_lineage.run_id IS 'the themes run that made the link';
COMMENT ON COLUMN theme_lineage.share IS 'share of the parent''s members that went to the child; new: share of the';
COMMENT ON TABLE theme_members IS 'Which theme each mention belongs to, per themes run (a partition per run; mentions in no theme are absent).';
COMMENT ON COLUMN theme_members.mention_id IS 'The mention (mentions.mention_id).';
COMMENT ON COLUMN theme_members.run_id IS 'The themes run.';
COMMENT ON COLUMN theme_members.similarity IS 'Cosine similarity of the mention to the theme''s centroid.';
COMMENT ON COLUMN theme_members.theme_id IS 'The theme (themes.theme_id).';
COMMENT ON TABLE theme_projections IS 'The reduction (PCA) a refit clustered in, kept so assign runs measure new mentions exactly as the refit measured its outliers: reduced = normalise((vector - mean) @ components^T).';
COMMENT ON COLUMN theme_projections.components IS 'principal axes, row after row (rows x embedding dimensions values)';
COMMENT ON COLUMN theme_projections.fit_run_id IS 'the refit run (theme_fits.run_id, mode ''refit'')';
COMMENT ON COLUMN theme_projections.mean IS 'the corpus mean subtracted first (embedding dimensions); [] = no reduction';
COMMENT ON COLUMN theme_projections.rows IS 'how many axes: the reduced space''s dimensions (0 = no reduction)';
COMMENT ON TABLE theme_quotes IS 'Representative quotes per theme and themes run: central, diverse, from several sources.';
COMMENT ON COLUMN theme_quotes.mention_id IS 'The quoted mention (mentions.mention_id: text, link, author).';
COMMENT ON COLUMN theme_quotes.rank IS '0 = shown first.';
COMMENT ON COLUMN theme_quotes.run_id IS 'The themes run.';
COMMENT ON COLUMN theme_quotes.theme_id IS 'The theme (themes.theme_id).';
COMMENT ON TABLE theme_seen IS 'Which mentions a themes run has already placed (in a theme or left unassigned), so an assign run looks only at the rest. A mention whose text changed is placed again.';
COMMENT ON COLUMN theme_seen.content_hash IS 'the version of the text that was placed (mentions.content_hash then)';
COMMENT ON COLUMN theme_seen.first_run_id IS 'the themes run that first placed this version of the text';
COMMENT ON COLUMN theme_seen.mention_id IS 'mentions.mention_id';
COMMENT ON COLUMN theme_snapshots.advice_request_share IS 'Share of the slice''s mentions asking for advice.';
COMMENT ON COLUMN theme_snapshots.audience IS 'An audience key, or ''all''.';
COMMENT ON COLUMN theme_snapshots.baseline_days IS 'length of the baseline window just before it (default 28)';
COMMENT ON COLUMN theme_snapshots.competitor_share IS 'Share of the slice''s mentions naming a competitor from market.yaml.';
COMMENT ON COLUMN theme_snapshots.positive_share IS 'Share of the slice''s mentions with positive sentiment.';
COMMENT ON COLUMN theme_snapshots.praise_share IS 'Share of the slice''s mentions praising something.';
COMMENT ON COLUMN theme_snapshots.pricing_share IS 'Share of the slice''s mentions talking about price or money.';
COMMENT ON COLUMN theme_snapshots.recent_days IS 'length of the recent window (trends.recent_days, default 7)';
COMMENT ON COLUMN theme_snapshots.run_id IS 'The themes run whose memberships were measured.';
COMMENT ON COLUMN theme_snapshots.solution_request_share IS 'Share of the slice''s mentions asking for a solution.';
COMMENT ON COLUMN theme_snapshots.theme_id IS 'The theme (themes.theme_id).';
COMMENT ON COLUMN theme_volume.theme_id IS 'The theme (themes.theme_id).';
COMMENT ON TABLE themes IS 'Every theme ever found, with its current label, keywords and centroid; retired themes are kept (inactive) with their history.';
COMMENT ON COLUMN themes.active IS 'Found or kept by the latest themes run.';
COMMENT ON COLUMN themes.centroid IS 'Unit-length mean of the members'' embeddings (full space): what identity and assignment compare against.';
COMMENT ON COLUMN themes.coherence IS 'mean cosine of members to the centroid: how tight the theme is';
COMMENT ON COLUMN themes.first_seen_run IS 'Themes run that first found it.';
COMMENT ON COLUMN themes.keywords IS 'Distinctive keyphrases (class-based TF-IDF), best first, in their written casing.';
COMMENT ON COLUMN themes.label IS 'Short readable label made of its top keyphrases.';
COMMENT ON COLUMN themes.last_seen_run IS 'Latest themes run that found or kept it.';
COMMENT ON COLUMN themes.model IS 'Embedding model of its centroid.';
COMMENT ON COLUMN themes.size IS 'Mentions in it at its latest run.';
COMMENT ON COLUMN themes.theme_id IS 'Stable id: kept across runs while the theme continues (see theme_lineage); new themes get new ids.';
