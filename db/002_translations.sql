-- 002: translations of articles (one row per article and target language), a cache of translated
-- texts shared across articles and re-polls, and the FTS index over translations.

CREATE TABLE article_translations (
    -- explicit rowid alias: VACUUM may renumber implicit rowids, which would desync the FTS index
    id INTEGER PRIMARY KEY,
    article INTEGER NOT NULL REFERENCES articles(id),
    language TEXT NOT NULL,              -- target language (ISO 639-1)
    title TEXT NOT NULL,
    summary TEXT NOT NULL DEFAULT '',
    content TEXT,                        -- cleaned content up to translation.max_content_chars; NULL if none
    engine TEXT NOT NULL,                -- argos | apertium
    model TEXT NOT NULL,                 -- model name + version, e.g. "translate-es_en 1.9"
    rough INTEGER NOT NULL DEFAULT 0,    -- 1: word-for-word engine, show marked as a rough translation
    source_language TEXT,                -- the language translated from (articles.language at the time)
    source_hash TEXT NOT NULL,           -- sha256 of the source texts; a changed article is retranslated
    translated_at TEXT NOT NULL,
    UNIQUE (article, language)           -- the logical key: one row per article and target language
);
CREATE INDEX article_translations_language ON article_translations(language);

-- Translated texts keyed by what produced them: identical texts are translated once.
CREATE TABLE translation_cache (
    text_hash TEXT NOT NULL,             -- sha256 of the source text
    source_language TEXT NOT NULL,
    target_language TEXT NOT NULL,
    engine TEXT NOT NULL,
    model TEXT NOT NULL,                 -- model name + version
    translation TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (text_hash, source_language, target_language, engine, model)
);

-- Full-text index over translations; search covers originals (articles_fts) and these.
CREATE VIRTUAL TABLE article_translations_fts USING fts5(
    title, summary,
    content='article_translations', content_rowid='id',
    tokenize='unicode61 remove_diacritics 2'
);
CREATE TRIGGER article_translations_fts_ai AFTER INSERT ON article_translations BEGIN
    INSERT INTO article_translations_fts(rowid, title, summary) VALUES (new.id, new.title, new.summary);
END;
CREATE TRIGGER article_translations_fts_ad AFTER DELETE ON article_translations BEGIN
    INSERT INTO article_translations_fts(article_translations_fts, rowid, title, summary)
    VALUES ('delete', old.id, old.title, old.summary);
END;
CREATE TRIGGER article_translations_fts_au AFTER UPDATE OF title, summary ON article_translations BEGIN
    INSERT INTO article_translations_fts(article_translations_fts, rowid, title, summary)
    VALUES ('delete', old.id, old.title, old.summary);
    INSERT INTO article_translations_fts(rowid, title, summary) VALUES (new.id, new.title, new.summary);
END;
