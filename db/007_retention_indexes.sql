-- 007: indexes for what `monitor status` and the web page read, and for pruning old rows
-- (`[poll] retention_days`, monitor/retention.py). Times are UTC ISO-8601 strings, so they sort.

-- status: the last finished run of each stage (SELECT stage, max(finished_at) ... GROUP BY stage).
CREATE INDEX runs_stage_finished ON runs(stage, finished_at);
-- the web page's "last updated" (max(finished_at)) and pruning old runs.
CREATE INDEX runs_finished ON runs(finished_at);
-- pruning old fetch attempts (the existing fetches_feed index starts with the feed).
CREATE INDEX fetches_started ON fetches(started_at);
-- status: articles per published day and country, newest days first.
CREATE INDEX articles_day_country ON articles(substr(published, 1, 10), country);
