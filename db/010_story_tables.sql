-- 010: the stories' JSON-in-TEXT summary columns become tables that Datasette can facet and filter,
-- written by `monitor cluster` (monitor/analysis/cluster.py, refresh_story) whenever a story changes.
-- A merged story (stories.merged_into set) has no rows in them: its articles moved to the other story.
--
-- Stories MX's press covered first:
--   SELECT story, first_seen FROM story_countries WHERE country = 'MX' ORDER BY first_seen DESC;
-- Stories both countries covered:
--   SELECT story FROM story_countries GROUP BY story HAVING count(*) > 1;
-- Stories in which the US press mostly used the "sovereignty" frame:
--   SELECT story, share FROM story_frames WHERE country = 'US' AND frame = 'sovereignty' AND share >= 0.5;
-- Stories mentioning an actor:
--   SELECT story, articles FROM story_actors WHERE actor = 'sheinbaum' ORDER BY articles DESC;
--
-- No JSON is left in `stories`. Per-article lists stay JSON in `analyses` (actors, keywords); filter
-- them with json_each, e.g. the articles that mention Sheinbaum:
--   SELECT an.article FROM analyses an, json_each(an.actors) je WHERE je.value = 'sheinbaum';

-- replaces stories.countries and stories.first_seen_by_country
CREATE TABLE story_countries (
    story INTEGER NOT NULL REFERENCES stories(id),
    country TEXT NOT NULL,               -- ISO 3166-1 alpha-2
    first_seen TEXT NOT NULL,            -- earliest published of the story's articles from this country
    articles INTEGER NOT NULL,           -- the story's articles from this country
    PRIMARY KEY (story, country)
);
CREATE INDEX story_countries_country ON story_countries(country, first_seen);

-- replaces stories.outlets
CREATE TABLE story_outlets (
    story INTEGER NOT NULL REFERENCES stories(id),
    outlet TEXT NOT NULL REFERENCES outlets(id),
    articles INTEGER NOT NULL,           -- the story's articles from this outlet
    PRIMARY KEY (story, outlet)
);
CREATE INDEX story_outlets_outlet ON story_outlets(outlet);

-- replaces stories.frames_by_country: each country's mix of its articles' top frames
CREATE TABLE story_frames (
    story INTEGER NOT NULL REFERENCES stories(id),
    country TEXT NOT NULL,
    frame TEXT NOT NULL,                 -- frame id from the debate file
    share REAL NOT NULL,                 -- share of that country's framed articles (with a top frame) in the story
    PRIMARY KEY (story, country, frame)
);
CREATE INDEX story_frames_frame ON story_frames(frame, country);

-- replaces stories.actors (which kept the ten most mentioned): every actor its articles mention
CREATE TABLE story_actors (
    story INTEGER NOT NULL REFERENCES stories(id),
    actor TEXT NOT NULL,                 -- actor id from the debate file
    articles INTEGER NOT NULL,           -- the story's articles that mention it
    PRIMARY KEY (story, actor)
);
CREATE INDEX story_actors_actor ON story_actors(actor);

-- backfill from the articles of each story that is shown (not merged)
INSERT INTO story_countries (story, country, first_seen, articles)
SELECT sa.story, a.country, min(a.published), count(*)
FROM story_articles sa JOIN articles a ON a.id = sa.article JOIN stories s ON s.id = sa.story
WHERE s.merged_into IS NULL
GROUP BY sa.story, a.country;

INSERT INTO story_outlets (story, outlet, articles)
SELECT sa.story, a.outlet, count(*)
FROM story_articles sa JOIN articles a ON a.id = sa.article JOIN stories s ON s.id = sa.story
WHERE s.merged_into IS NULL
GROUP BY sa.story, a.outlet;

INSERT INTO story_frames (story, country, frame, share)
SELECT s.id, c.key, f.key, f.value
FROM stories s,
     json_each(CASE WHEN json_valid(s.frames_by_country) THEN s.frames_by_country ELSE '{}' END) c,
     json_each(c.value) f
WHERE s.merged_into IS NULL AND c.type = 'object';

INSERT INTO story_actors (story, actor, articles)
SELECT sa.story, je.value, count(DISTINCT sa.article)
FROM story_articles sa JOIN analyses an ON an.article = sa.article JOIN stories s ON s.id = sa.story,
     json_each(CASE WHEN json_valid(an.actors) THEN an.actors ELSE '[]' END) je
WHERE s.merged_into IS NULL
GROUP BY sa.story, je.value;

ALTER TABLE stories DROP COLUMN first_seen_by_country;
ALTER TABLE stories DROP COLUMN outlets;
ALTER TABLE stories DROP COLUMN countries;
ALTER TABLE stories DROP COLUMN frames_by_country;
ALTER TABLE stories DROP COLUMN actors;
-- centroid was never written (the clusterer recomputes centroids from the articles each run)
ALTER TABLE stories DROP COLUMN centroid;
