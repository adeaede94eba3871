-- 013: a change counter per embedding model, so semantic search (monitor/search/vectors.py) can keep its
-- float16 copy of the vectors in step cheaply: new vectors are appended by row id, and any rewrite or
-- deletion (a re-embedded headline, retention) bumps `changes`, which tells the copy to rebuild.

CREATE TABLE embedding_changes (
    model TEXT PRIMARY KEY,
    changes INTEGER NOT NULL DEFAULT 0   -- vectors rewritten or deleted since the table was made
);

CREATE TRIGGER article_embeddings_changed_au AFTER UPDATE OF vector, article_id, model ON article_embeddings BEGIN
    INSERT INTO embedding_changes (model, changes) VALUES (old.model, 1)
        ON CONFLICT (model) DO UPDATE SET changes = changes + 1;
END;

CREATE TRIGGER article_embeddings_changed_ad AFTER DELETE ON article_embeddings BEGIN
    INSERT INTO embedding_changes (model, changes) VALUES (old.model, 1)
        ON CONFLICT (model) DO UPDATE SET changes = changes + 1;
END;
