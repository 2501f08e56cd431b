-- earshot warehouse, version 8: what went wrong and who was told.
CREATE TABLE task_failures (
    run_id      VARCHAR NOT NULL,
    dag_id      VARCHAR NOT NULL,
    task_id     VARCHAR NOT NULL,
    map_index   INTEGER NOT NULL,   -- -1 for an unmapped task; else the index of the mapped instance
    try_number  INTEGER NOT NULL,
    failed_at   TIMESTAMPTZ NOT NULL,
    error       VARCHAR,
    PRIMARY KEY (run_id, dag_id, task_id, map_index)
);
COMMENT ON TABLE task_failures IS 'Airflow task instances that failed for good (after their retries), written by the failure callback.';
COMMENT ON COLUMN task_failures.run_id IS 'Airflow run id (also the earshot run id).';
COMMENT ON COLUMN task_failures.dag_id IS 'DAG of the failed task.';
COMMENT ON COLUMN task_failures.task_id IS 'Task that failed, e.g. fetch or cluster.';
COMMENT ON COLUMN task_failures.map_index IS 'Mapped instance index (one per source for fetch); -1 when not mapped.';
COMMENT ON COLUMN task_failures.try_number IS 'Attempt that failed last.';
COMMENT ON COLUMN task_failures.failed_at IS 'When the callback recorded the failure (UTC).';
COMMENT ON COLUMN task_failures.error IS 'The exception, one line, secrets never included.';

CREATE TABLE alerts (
    alert_id      VARCHAR PRIMARY KEY,
    kind          VARCHAR NOT NULL,
    subject       VARCHAR NOT NULL,
    message       VARCHAR NOT NULL,
    raised_at     TIMESTAMPTZ NOT NULL,
    raised_run    VARCHAR NOT NULL,
    notified_at   TIMESTAMPTZ,
    notify_error  VARCHAR,
    resolved_at   TIMESTAMPTZ,
    resolved_run  VARCHAR
);
COMMENT ON TABLE alerts IS 'Problems that need a person, raised once and resolved once: a failing source alerts on the run it crosses the threshold, not on every run after.';
COMMENT ON COLUMN alerts.alert_id IS 'Stable key of the problem, e.g. source_failing:<source_id>:<raised run>; one open alert per problem.';
COMMENT ON COLUMN alerts.kind IS 'source_failing | task_failed.';
COMMENT ON COLUMN alerts.subject IS 'What the alert is about: a source id or dag.task.';
COMMENT ON COLUMN alerts.message IS 'The alert in words, as sent.';
COMMENT ON COLUMN alerts.raised_at IS 'When it was raised (UTC).';
COMMENT ON COLUMN alerts.raised_run IS 'Run that raised it.';
COMMENT ON COLUMN alerts.notified_at IS 'When a notification went out; NULL when none was configured or sending failed.';
COMMENT ON COLUMN alerts.notify_error IS 'Why the notification could not be sent, if it could not.';
COMMENT ON COLUMN alerts.resolved_at IS 'When the problem went away (source healthy again); NULL while open.';
COMMENT ON COLUMN alerts.resolved_run IS 'Run that saw it resolved.';
