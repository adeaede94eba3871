-- 005: alerts (the once-per-(rule, subject) ledger and per-sink delivery queue) and watcher state.
-- Written by `monitor watch` (monitor/alerts.py, monitor/watch.py). Times are UTC ISO-8601 strings.

-- One row per alert that fired: a rule matched an article (term rules) or a story (breaking rule).
-- The UNIQUE key is the ledger: an alert fires once per (rule, article or story), across runs.
CREATE TABLE alerts_fired (
    id INTEGER PRIMARY KEY,
    rule TEXT NOT NULL,                  -- the rule's name from [[alerts]]
    subject_kind TEXT NOT NULL,          -- article | story
    subject_id INTEGER NOT NULL,         -- articles.id or stories.id
    fired_at TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT '',     -- why it matched, e.g. "5 articles in 30 min"
    message TEXT NOT NULL,               -- JSON: {text, title, url, country, outlet, ...} as sent to the sinks
    UNIQUE (rule, subject_kind, subject_id)
);
CREATE INDEX alerts_fired_at ON alerts_fired(fired_at);

-- One row per (alert, sink): the sink is retried with backoff until it succeeds or gives up.
CREATE TABLE alert_deliveries (
    alert INTEGER NOT NULL REFERENCES alerts_fired(id),
    sink TEXT NOT NULL,                  -- log | email | webhook
    target TEXT NOT NULL DEFAULT '',     -- the webhook URL or the comma-separated email recipients, fixed at firing
    status TEXT NOT NULL DEFAULT 'pending',  -- pending | sent | failed (gave up after the last attempt)
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,       -- not tried again before this time (backoff)
    last_error TEXT,
    sent_at TEXT,
    PRIMARY KEY (alert, sink)
);
CREATE INDEX alert_deliveries_due ON alert_deliveries(status, next_attempt_at);

-- Small key/value state of the watcher that must survive restarts (e.g. the day the digest was last run).
CREATE TABLE watch_state (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
