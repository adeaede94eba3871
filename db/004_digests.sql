-- 004: daily digests (stored as rendered) and their sends, one row per (day, recipient).
-- Written by `monitor digest` and the last stage of `monitor run`. Times are UTC ISO-8601.

CREATE TABLE digests (
    day TEXT NOT NULL,                   -- YYYY-MM-DD, a calendar day in `timezone`
    lang TEXT NOT NULL,                  -- language of the surrounding text: en | es
    timezone TEXT NOT NULL,
    subject TEXT NOT NULL,               -- one line, safe for a header
    stories INTEGER NOT NULL,
    articles INTEGER NOT NULL,
    content_hash TEXT NOT NULL,          -- sha256 of the model without its generation time: unchanged input, unchanged row
    model TEXT NOT NULL,                 -- JSON of the digest model (the `json` format)
    text TEXT NOT NULL,
    markdown TEXT NOT NULL,
    html TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,            -- last time the content changed
    PRIMARY KEY (day, lang)
);

CREATE TABLE digest_sends (
    day TEXT NOT NULL,                   -- the digest's day
    recipient TEXT NOT NULL,             -- an address from the config or --to, never from feed data
    status TEXT NOT NULL,                -- sent | failed
    lang TEXT NOT NULL,
    subject TEXT,
    content_hash TEXT,                   -- the digest version sent (or attempted)
    message_id TEXT,                     -- Message-ID of the last attempt
    attempts INTEGER NOT NULL DEFAULT 0, -- every attempt, failed or not
    sends INTEGER NOT NULL DEFAULT 0,    -- successful deliveries (more than 1 only with --resend)
    error TEXT,                          -- the last failure, NULL once sent
    first_attempt_at TEXT NOT NULL,
    last_attempt_at TEXT NOT NULL,
    sent_at TEXT,                        -- the last successful delivery
    PRIMARY KEY (day, recipient)
);
CREATE INDEX digest_sends_status ON digest_sends(status);
