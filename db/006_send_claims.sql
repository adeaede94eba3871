-- 006: side effects once across processes. A digest send and an alert delivery are claimed inside
-- BEGIN IMMEDIATE before the network is touched: status `claimed` (digest) / `sending` (alert) with the
-- claimant and an expiry; a claim left by a killed process expires and is taken over by a later run.
-- The digest send ledger gains the language: (day, lang, recipient) is one send, so the Spanish digest
-- of a day is sent after the English one. Written by monitor/digest/send.py and monitor/alerts.py.

CREATE TABLE digest_sends_v6 (
    day TEXT NOT NULL,                   -- the digest's day
    lang TEXT NOT NULL,                  -- the digest's language: en | es
    recipient TEXT NOT NULL,             -- an address from the config or --to, never from feed data
    status TEXT NOT NULL,                -- claimed | sent | failed
    subject TEXT,
    content_hash TEXT,                   -- the digest version sent (or attempted)
    message_id TEXT,                     -- Message-ID of the last attempt
    attempts INTEGER NOT NULL DEFAULT 0, -- every claimed attempt, failed, interrupted or not
    sends INTEGER NOT NULL DEFAULT 0,    -- successful deliveries (more than 1 only with --resend or after a crash)
    error TEXT,                          -- the last failure, NULL once sent
    claimed_by TEXT,                     -- host:pid:nonce of the process sending now (status claimed)
    claim_until TEXT,                    -- a claim not finished by then is taken over by the next run
    first_attempt_at TEXT NOT NULL,
    last_attempt_at TEXT NOT NULL,
    sent_at TEXT,                        -- the last successful delivery
    PRIMARY KEY (day, lang, recipient)
);

INSERT INTO digest_sends_v6 (day, lang, recipient, status, subject, content_hash, message_id, attempts, sends,
                             error, first_attempt_at, last_attempt_at, sent_at)
SELECT day, lang, recipient, status, subject, content_hash, message_id, attempts, sends, error,
       first_attempt_at, last_attempt_at, sent_at
FROM digest_sends;

DROP TABLE digest_sends;

ALTER TABLE digest_sends_v6 RENAME TO digest_sends;

CREATE INDEX digest_sends_status ON digest_sends(status);

-- alert_deliveries.status gains `sending`: claimed by `claimed_by` until `claim_until`.
ALTER TABLE alert_deliveries ADD COLUMN claimed_by TEXT;

ALTER TABLE alert_deliveries ADD COLUMN claim_until TEXT;
