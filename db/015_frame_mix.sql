-- 015: each relevant article's frame mix, for frame shares that do not overstate the largest frames.
--
-- analyses.frame_mix: JSON object {frame id: P(primary frame = frame)} from the trained model, over the
-- debate's frames, summing to 1, best first (NULL: the debate file decided alone, or not relevant; the
-- article then counts wholly for its top frame). The frame bars sum these mixes (monitor/analysis/frame_mix.py).
ALTER TABLE analyses ADD COLUMN frame_mix TEXT;
-- Relevant articles the model analysed before this column existed are analysed again on the next run,
-- so that a period's bars are not half counted one way and half the other.
UPDATE analyses SET debate_hash = 'before-015-frame-mix' WHERE relevant = 1 AND probability IS NOT NULL;
