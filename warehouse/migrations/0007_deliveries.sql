-- earshot warehouse, version 7: report delivery (e-mail, webhook) as an outbox.
-- One row per report run, channel and target. The report files are written before delivery and are never
-- touched by it; a row only says whether they reached their target. Rows that are 'pending' or 'failed' are
-- tried again by the next delivery of that run (Airflow retry, `earshot deliver RUN_ID`); 'sent' rows never are.
-- Secrets (SMTP password, the full webhook URL) are never stored here.
CREATE TABLE deliveries (
    run_id          VARCHAR NOT NULL,     -- the report run (runs.run_id, stage 'report') being delivered
    channel         VARCHAR NOT NULL,     -- email | webhook
    target          VARCHAR NOT NULL,     -- e-mail: the recipient address; webhook: the URL's host, path hidden
    status          VARCHAR NOT NULL,     -- pending | sent | failed
    attempts        INTEGER NOT NULL DEFAULT 0,  -- tries so far, over every delivery run
    last_error      VARCHAR,              -- why the last try failed (channel, target, problem); NULL once sent
    first_tried_at  TIMESTAMPTZ,          -- when the first try started
    sent_at         TIMESTAMPTZ,          -- when the target accepted it
    report_at       TIMESTAMPTZ NOT NULL, -- the report's logical time (its run's run_at): the {date} of the subject
    report_html     VARCHAR NOT NULL,     -- path of the HTML report sent (read, never modified)
    report_md       VARCHAR NOT NULL,     -- path of its Markdown twin
    summary         JSON,                 -- the report summary the webhook message is built from
    updated_at      TIMESTAMPTZ,          -- when this row last changed
    PRIMARY KEY (run_id, channel, target)
);

COMMENT ON TABLE deliveries IS 'Report delivery outbox: one row per report run, channel (email|webhook) and target; status pending|sent|failed.';
COMMENT ON COLUMN deliveries.target IS 'E-mail recipient address, or the webhook URL with its path hidden (the path of a Slack webhook is its secret).';
COMMENT ON COLUMN deliveries.status IS 'pending: not tried or interrupted; sent: accepted by the target; failed: last try failed (retried by the next delivery).';
COMMENT ON COLUMN deliveries.attempts IS 'Tries so far, over every delivery of this run.';
COMMENT ON COLUMN deliveries.last_error IS 'Why the last try failed, naming channel, target and problem; never a secret.';
