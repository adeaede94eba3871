-- 003: analysis results (relevance, frames with evidence, actors) and cross-lingual stories.
-- Written by `monitor analyze` (analyses, article_frames) and `monitor cluster` (stories, story_articles).
-- Times are UTC ISO-8601 strings. JSON columns hold UTF-8 JSON text.

-- One row per analysed article. Re-analysed when the article's content_hash or the debate file's hash changes.
CREATE TABLE analyses (
    article INTEGER PRIMARY KEY REFERENCES articles(id),
    debate_hash TEXT NOT NULL,           -- sha256 of the debate file the analysis used
    content_hash TEXT NOT NULL,          -- articles.content_hash at analysis time
    translation_hash TEXT,               -- hash of the pivot translation used (NULL: none); a new translation re-analyses
    relevant INTEGER NOT NULL,           -- 0/1: relevance >= the debate file's threshold
    relevance REAL NOT NULL,             -- weighted relevance score (after exclusions)
    top_frame TEXT,                      -- frame id with the highest score over its threshold, or NULL
    frames TEXT NOT NULL DEFAULT '[]',   -- JSON list of frame ids over threshold, best first
    actors TEXT NOT NULL DEFAULT '[]',   -- JSON list of actor ids mentioned
    keywords TEXT NOT NULL DEFAULT '[]', -- JSON list of the article's top keywords (English pivot stems' surface forms)
    analyzed_at TEXT NOT NULL
);
CREATE INDEX analyses_relevant ON analyses(relevant);
CREATE INDEX analyses_top_frame ON analyses(top_frame);

-- Frame scores with the evidence behind them (only frames with a score > 0 are stored).
CREATE TABLE article_frames (
    article INTEGER NOT NULL REFERENCES articles(id),
    frame TEXT NOT NULL,                 -- frame id from the debate file
    score REAL NOT NULL,
    evidence TEXT NOT NULL DEFAULT '[]', -- JSON list of {terms, sentence, sentence_translated, language}
    PRIMARY KEY (article, frame)
);
CREATE INDEX article_frames_frame ON article_frames(frame);

-- Stories: relevant articles of both countries/languages about the same event.
CREATE TABLE stories (
    id INTEGER PRIMARY KEY,              -- stable across runs
    label_en TEXT NOT NULL DEFAULT '',
    label_es TEXT NOT NULL DEFAULT '',
    first_seen TEXT,                     -- earliest published of its articles
    last_seen TEXT,                      -- latest published of its articles
    first_seen_by_country TEXT NOT NULL DEFAULT '{}',  -- JSON {"US": iso, "MX": iso}
    outlets TEXT NOT NULL DEFAULT '[]',  -- JSON list of outlet ids
    countries TEXT NOT NULL DEFAULT '[]',-- JSON list of country codes
    size INTEGER NOT NULL DEFAULT 0,     -- number of articles
    frames_by_country TEXT NOT NULL DEFAULT '{}',      -- JSON {country: {frame: share}}
    centroid TEXT,                       -- JSON {term: weight}, the story's keyword vector (for incremental joins)
    actors TEXT NOT NULL DEFAULT '[]',   -- JSON list of actor ids shared by its articles
    merged_into INTEGER REFERENCES stories(id),  -- set when merged into another story; merged stories are not shown
    updated_at TEXT NOT NULL
);
CREATE INDEX stories_last_seen ON stories(last_seen);
CREATE INDEX stories_merged_into ON stories(merged_into);

CREATE TABLE story_articles (
    story INTEGER NOT NULL REFERENCES stories(id),
    article INTEGER PRIMARY KEY REFERENCES articles(id),  -- an article is in at most one story
    joined_at TEXT NOT NULL
);
CREATE INDEX story_articles_story ON story_articles(story);
