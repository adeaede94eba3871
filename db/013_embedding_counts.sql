-- 013: per embedding model, how many vectors there are, the highest row id given out and how many were
-- rewritten or deleted, kept by triggers. Semantic search (monitor/search/vectors.py) keeps a float16 copy
-- of the vectors and reads this one row to know, without counting a million rows, whether the copy is
-- current, only needs the rows above max_id appended, or (changes moved: a re-embedded headline,
-- retention) must be rebuilt.

CREATE TABLE embedding_counts (
    model TEXT PRIMARY KEY,
    vectors INTEGER NOT NULL DEFAULT 0,  -- article_embeddings rows of this model
    max_id INTEGER NOT NULL DEFAULT 0,   -- highest article_embeddings.id inserted for it
    changes INTEGER NOT NULL DEFAULT 0   -- its vectors rewritten or deleted
);

INSERT INTO embedding_counts (model, vectors, max_id, changes)
    SELECT model, count(*), max(id), 0 FROM article_embeddings GROUP BY model;

CREATE TRIGGER article_embeddings_counts_ai AFTER INSERT ON article_embeddings BEGIN
    INSERT INTO embedding_counts (model, vectors, max_id) VALUES (new.model, 1, new.id)
        ON CONFLICT (model) DO UPDATE SET vectors = vectors + 1, max_id = max(max_id, excluded.max_id);
END;

CREATE TRIGGER article_embeddings_counts_ad AFTER DELETE ON article_embeddings BEGIN
    UPDATE embedding_counts SET vectors = vectors - 1, changes = changes + 1 WHERE model = old.model;
END;

CREATE TRIGGER article_embeddings_counts_au AFTER UPDATE OF vector, article_id ON article_embeddings BEGIN
    UPDATE embedding_counts SET changes = changes + 1 WHERE model = old.model;
END;

CREATE TRIGGER article_embeddings_counts_model AFTER UPDATE OF model ON article_embeddings
WHEN new.model IS NOT old.model BEGIN
    UPDATE embedding_counts SET vectors = vectors - 1, changes = changes + 1 WHERE model = old.model;
    INSERT INTO embedding_counts (model, vectors, max_id, changes) VALUES (new.model, 1, new.id, 1)
        ON CONFLICT (model) DO UPDATE SET vectors = vectors + 1, changes = changes + 1,
            max_id = max(max_id, excluded.max_id);
END;
