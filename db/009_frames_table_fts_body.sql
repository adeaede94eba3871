-- 009: one source of truth for an article's frames, and the article body in full-text search.
--
-- Frames. Until now an analysed article's frames lived twice: analyses.frames (a JSON list of the
-- frame ids over threshold, best first) and article_frames (one row per frame with a score > 0 and
-- its evidence). article_frames is kept, since Datasette can facet and filter it, and learns the two
-- facts the JSON list carried: whether the frame is over its threshold and its place, best first.
-- analyses.frames is dropped. An article's frames over threshold, best first:
--   SELECT frame FROM article_frames WHERE article = 42 AND over_threshold = 1 ORDER BY position;
-- Relevant articles framed as "sovereignty":
--   SELECT article FROM article_frames WHERE frame = 'sovereignty' AND over_threshold = 1;
ALTER TABLE article_frames ADD COLUMN over_threshold INTEGER NOT NULL DEFAULT 0;  -- 1: score >= the frame's threshold
ALTER TABLE article_frames ADD COLUMN position INTEGER NOT NULL DEFAULT 0;        -- 0: the article's best-scored frame

-- backfill: over threshold = listed in the old JSON column; position = rank by score, ties in the
-- list's order (the analyser breaks ties by the debate file's order), then by frame id
CREATE TEMP TABLE _frame_order AS
SELECT af.article, af.frame, af.score, COALESCE((
    SELECT CAST(je.key AS INTEGER) FROM analyses an,
        json_each(CASE WHEN json_valid(an.frames) THEN an.frames ELSE '[]' END) je
    WHERE an.article = af.article AND je.value = af.frame
), 1000000) AS listed
FROM article_frames af;
CREATE INDEX temp._frame_order_article ON _frame_order(article, frame);
UPDATE article_frames SET
    over_threshold = (
        SELECT o.listed < 1000000 FROM _frame_order o
        WHERE o.article = article_frames.article AND o.frame = article_frames.frame
    ),
    position = (
        SELECT count(*) FROM _frame_order me JOIN _frame_order o ON o.article = me.article
        WHERE me.article = article_frames.article AND me.frame = article_frames.frame
          AND (o.score > me.score OR (o.score = me.score
               AND (o.listed < me.listed OR (o.listed = me.listed AND o.frame < me.frame))))
    );
DROP TABLE _frame_order;

ALTER TABLE analyses DROP COLUMN frames;

-- Full text: the body (articles.content_text, and the translated content) is searchable too.
-- The indexes follow sqlite-utils' conventions (`<table>_fts`, content="<table>") so that
-- sqlite-utils (`db["articles"].search(...)`, `.rebuild_fts()`) and Datasette's search box find them.
-- The triggers are written here rather than by sqlite-utils' `enable_fts(create_triggers=True)`:
-- its update trigger fires on an UPDATE of any column (re-indexing the whole body whenever a feed
-- poll touches `updated_at`), and `enable_fts` runs `executescript`, which would commit this
-- migration's transaction half-way. Search weighs title > summary > body (bm25 column weights in
-- monitor/search/engine.py).
DROP TRIGGER articles_fts_ai;
DROP TRIGGER articles_fts_ad;
DROP TRIGGER articles_fts_au;
DROP TABLE articles_fts;
CREATE VIRTUAL TABLE articles_fts USING fts5(
    title, summary, content_text,
    content="articles", content_rowid="id",
    tokenize='unicode61 remove_diacritics 2'
);
CREATE TRIGGER articles_fts_ai AFTER INSERT ON articles BEGIN
    INSERT INTO articles_fts(rowid, title, summary, content_text)
    VALUES (new.id, new.title, new.summary, new.content_text);
END;
CREATE TRIGGER articles_fts_ad AFTER DELETE ON articles BEGIN
    INSERT INTO articles_fts(articles_fts, rowid, title, summary, content_text)
    VALUES ('delete', old.id, old.title, old.summary, old.content_text);
END;
CREATE TRIGGER articles_fts_au AFTER UPDATE OF title, summary, content_text ON articles BEGIN
    INSERT INTO articles_fts(articles_fts, rowid, title, summary, content_text)
    VALUES ('delete', old.id, old.title, old.summary, old.content_text);
    INSERT INTO articles_fts(rowid, title, summary, content_text)
    VALUES (new.id, new.title, new.summary, new.content_text);
END;
INSERT INTO articles_fts(articles_fts) VALUES ('rebuild');

DROP TRIGGER article_translations_fts_ai;
DROP TRIGGER article_translations_fts_ad;
DROP TRIGGER article_translations_fts_au;
DROP TABLE article_translations_fts;
CREATE VIRTUAL TABLE article_translations_fts USING fts5(
    title, summary, content,
    content="article_translations", content_rowid="id",
    tokenize='unicode61 remove_diacritics 2'
);
CREATE TRIGGER article_translations_fts_ai AFTER INSERT ON article_translations BEGIN
    INSERT INTO article_translations_fts(rowid, title, summary, content)
    VALUES (new.id, new.title, new.summary, new.content);
END;
CREATE TRIGGER article_translations_fts_ad AFTER DELETE ON article_translations BEGIN
    INSERT INTO article_translations_fts(article_translations_fts, rowid, title, summary, content)
    VALUES ('delete', old.id, old.title, old.summary, old.content);
END;
CREATE TRIGGER article_translations_fts_au AFTER UPDATE OF title, summary, content ON article_translations BEGIN
    INSERT INTO article_translations_fts(article_translations_fts, rowid, title, summary, content)
    VALUES ('delete', old.id, old.title, old.summary, old.content);
    INSERT INTO article_translations_fts(rowid, title, summary, content)
    VALUES (new.id, new.title, new.summary, new.content);
END;
INSERT INTO article_translations_fts(article_translations_fts) VALUES ('rebuild');
