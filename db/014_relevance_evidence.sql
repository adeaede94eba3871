-- 014: every relevance decision keeps the evidence that made it, and the trained layer's readings.
--
-- analyses.evidence: JSON list of {terms, sentence, sentence_translated, language}: the sentences
-- where the debate file's relevance terms were found (or, where only the trained model's words tell,
-- the sentence holding them). analyses.probability: the trained model's P(relevant) (NULL: the debate
-- file decided alone). analyses.model_terms: JSON list of the article's words that pushed the model
-- most towards relevant. article_frames.probability: the model's P(primary frame) (NULL: no model).
ALTER TABLE analyses ADD COLUMN evidence TEXT NOT NULL DEFAULT '[]';
ALTER TABLE analyses ADD COLUMN probability REAL;
ALTER TABLE analyses ADD COLUMN model_terms TEXT NOT NULL DEFAULT '[]';
ALTER TABLE article_frames ADD COLUMN probability REAL;
