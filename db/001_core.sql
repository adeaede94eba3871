-- 001: outlets, feeds and their health, fetch attempts, articles and their revisions.
-- Times are UTC ISO-8601 strings ("2026-11-22T14:05:00+00:00").

CREATE TABLE outlets (
    id TEXT PRIMARY KEY,                 -- slug from feeds/outlets.toml
    name TEXT NOT NULL,
    country TEXT NOT NULL,               -- ISO 3166-1 alpha-2: US, MX
    language TEXT NOT NULL,              -- ISO 639-1: the outlet's usual language
    homepage TEXT,
    timezone TEXT                        -- for feeds that give naive local times
);

CREATE TABLE feeds (
    id INTEGER PRIMARY KEY,
    outlet TEXT NOT NULL REFERENCES outlets(id),
    url TEXT NOT NULL UNIQUE,            -- as in the registry
    section TEXT,
    status TEXT NOT NULL DEFAULT 'active',   -- active | failing | gone | duplicate | removed
    etag TEXT,
    last_modified TEXT,
    body_hash TEXT,                      -- sha256 of the last body parsed
    last_fetched_at TEXT,
    last_success_at TEXT,
    last_unconditional_at TEXT,
    last_status INTEGER,                 -- HTTP status of the last attempt
    last_error TEXT,
    last_error_kind TEXT,
    consecutive_failures INTEGER NOT NULL DEFAULT 0,
    next_check_at TEXT,
    warning TEXT,                        -- bozo and other non-fatal problems of the last parse
    moved_to TEXT,                       -- a permanent redirect seen on consecutive polls
    moved_count INTEGER NOT NULL DEFAULT 0,
    items_last INTEGER,
    newest_published TEXT,
    lease_until TEXT,                    -- a poll process holds this feed until then
    lease_owner TEXT
);
CREATE INDEX feeds_outlet ON feeds(outlet);

CREATE TABLE hosts (
    host TEXT PRIMARY KEY,
    retry_after_until TEXT,              -- 429/503 Retry-After applies to the whole host
    reason TEXT
);

CREATE TABLE fetches (
    id INTEGER PRIMARY KEY,
    feed INTEGER NOT NULL REFERENCES feeds(id),
    started_at TEXT NOT NULL,
    duration_ms INTEGER,
    outcome TEXT NOT NULL,               -- fetched | not_modified | unchanged | failed | gone | rate_limited
    http_status INTEGER,
    error TEXT,
    bytes INTEGER,
    items INTEGER,
    new_articles INTEGER NOT NULL DEFAULT 0,
    updated_articles INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX fetches_feed ON fetches(feed, started_at);

CREATE TABLE articles (
    id INTEGER PRIMARY KEY,
    outlet TEXT NOT NULL REFERENCES outlets(id),
    feed INTEGER REFERENCES feeds(id),   -- the feed it was first seen in
    country TEXT NOT NULL,
    language TEXT NOT NULL,              -- the article's language (detected when confident, else the outlet's)
    outlet_language TEXT NOT NULL,
    detected_language TEXT,
    language_confidence REAL,
    url TEXT,                            -- canonical: tracking parameters and fragment removed; NULL if not http(s)
    link TEXT,                           -- the link as the feed gave it (http(s) only)
    guid TEXT,
    title TEXT NOT NULL,
    summary TEXT NOT NULL DEFAULT '',    -- clean text
    content_html TEXT,                   -- cleaned (nh3) HTML, narrow allowlist
    content_text TEXT,
    authors TEXT NOT NULL DEFAULT '[]',  -- JSON list
    tags TEXT NOT NULL DEFAULT '[]',     -- JSON list
    published TEXT NOT NULL,             -- UTC; = first_seen when the feed's date was missing or absurd
    date_source TEXT NOT NULL,           -- feed | fetched
    date_flag TEXT,                      -- NULL | missing | unparseable | future
    first_seen TEXT NOT NULL,
    updated_at TEXT,
    content_hash TEXT NOT NULL,          -- sha256 of title + summary + content
    warnings TEXT                        -- JSON list, e.g. link dropped for a javascript: scheme
);
CREATE UNIQUE INDEX articles_outlet_url ON articles(outlet, url) WHERE url IS NOT NULL;
CREATE INDEX articles_published ON articles(published);
CREATE INDEX articles_country_published ON articles(country, published);

-- Which feeds an article was seen in, and under which guid (identity per feed).
CREATE TABLE article_feeds (
    article INTEGER NOT NULL REFERENCES articles(id),
    feed INTEGER NOT NULL REFERENCES feeds(id),
    guid TEXT,
    identity TEXT NOT NULL,              -- the key that identified the entry in this feed
    first_seen TEXT NOT NULL,
    PRIMARY KEY (article, feed)
);
CREATE UNIQUE INDEX article_feeds_identity ON article_feeds(feed, identity);

CREATE TABLE article_revisions (
    id INTEGER PRIMARY KEY,
    article INTEGER NOT NULL REFERENCES articles(id),
    title TEXT NOT NULL,
    summary TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    replaced_at TEXT NOT NULL            -- when this version was replaced by a newer one
);
CREATE INDEX article_revisions_article ON article_revisions(article);

-- One row per stage run, for `monitor status` and the digest footer.
CREATE TABLE runs (
    id INTEGER PRIMARY KEY,
    stage TEXT NOT NULL,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    report TEXT                          -- JSON of the stage's report
);

-- Full-text index over originals, kept in sync by triggers.
-- unicode61 with remove_diacritics 2: "mexico" finds "México" in either language.
CREATE VIRTUAL TABLE articles_fts USING fts5(
    title, summary,
    content='articles', content_rowid='id',
    tokenize='unicode61 remove_diacritics 2'
);
CREATE TRIGGER articles_fts_ai AFTER INSERT ON articles BEGIN
    INSERT INTO articles_fts(rowid, title, summary) VALUES (new.id, new.title, new.summary);
END;
CREATE TRIGGER articles_fts_ad AFTER DELETE ON articles BEGIN
    INSERT INTO articles_fts(articles_fts, rowid, title, summary) VALUES ('delete', old.id, old.title, old.summary);
END;
CREATE TRIGGER articles_fts_au AFTER UPDATE OF title, summary ON articles BEGIN
    INSERT INTO articles_fts(articles_fts, rowid, title, summary) VALUES ('delete', old.id, old.title, old.summary);
    INSERT INTO articles_fts(rowid, title, summary) VALUES (new.id, new.title, new.summary);
END;
