-- 013: per embedding model, how many vectors there are, the highest row id given out and how many were
-- rewritten or deleted, kept by triggers; and a log of which articles' vectors were rewritten or deleted.
-- Semantic search (monitor/search/vectors.py) keeps a float16 copy of the vectors and reads the one row
-- to know, without counting a million rows, whether the copy is current; it appends the rows above
-- max_id, and patches the articles the log names (a re-embedded headline, retention) in place.

CREATE TABLE embedding_counts (
    model TEXT PRIMARY KEY,
    vectors INTEGER NOT NULL DEFAULT 0,  -- article_embeddings rows of this model
    max_id INTEGER NOT NULL DEFAULT 0,   -- highest article_embeddings.id inserted for it
    changes INTEGER NOT NULL DEFAULT 0   -- its vectors rewritten or deleted (= entries added to the log)
);

INSERT INTO embedding_counts (model, vectors, max_id, changes)
    SELECT model, count(*), max(id), 0 FROM article_embeddings GROUP BY model;

-- one entry per rewrite or deletion (article_id -1: an article id or model was changed, rebuild);
-- only the newest 100,000 are kept: a copy further behind rebuilds
CREATE TABLE embedding_rewrites (
    seq INTEGER PRIMARY KEY,
    model TEXT NOT NULL,
    article_id INTEGER NOT NULL
);

CREATE TRIGGER article_embeddings_counts_ai AFTER INSERT ON article_embeddings BEGIN
    INSERT INTO embedding_counts (model, vectors, max_id) VALUES (new.model, 1, new.id)
        ON CONFLICT (model) DO UPDATE SET vectors = vectors + 1, max_id = max(max_id, excluded.max_id);
END;

CREATE TRIGGER article_embeddings_counts_ad AFTER DELETE ON article_embeddings BEGIN
    UPDATE embedding_counts SET vectors = vectors - 1, changes = changes + 1 WHERE model = old.model;
    INSERT INTO embedding_rewrites (model, article_id) VALUES (old.model, old.article_id);
    DELETE FROM embedding_rewrites WHERE seq <= (SELECT max(seq) FROM embedding_rewrites) - 100000;
END;

CREATE TRIGGER article_embeddings_counts_au AFTER UPDATE OF vector ON article_embeddings
WHEN new.article_id IS old.article_id AND new.model IS old.model BEGIN
    UPDATE embedding_counts SET changes = changes + 1 WHERE model = old.model;
    INSERT INTO embedding_rewrites (model, article_id) VALUES (old.model, old.article_id);
    DELETE FROM embedding_rewrites WHERE seq <= (SELECT max(seq) FROM embedding_rewrites) - 100000;
END;

CREATE TRIGGER article_embeddings_counts_moved AFTER UPDATE OF article_id, model ON article_embeddings
WHEN new.article_id IS NOT old.article_id OR new.model IS NOT old.model BEGIN
    UPDATE embedding_counts SET vectors = vectors - 1, changes = changes + 1 WHERE model = old.model;
    INSERT INTO embedding_rewrites (model, article_id) VALUES (old.model, -1);
    INSERT INTO embedding_counts (model, vectors, max_id, changes) VALUES (new.model, 1, new.id, 1)
        ON CONFLICT (model) DO UPDATE SET vectors = vectors + 1, changes = changes + 1,
            max_id = max(max_id, excluded.max_id);
    INSERT INTO embedding_rewrites (model, article_id) VALUES (new.model, -1);
END;
