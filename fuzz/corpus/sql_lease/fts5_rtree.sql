CREATE VIRTUAL TABLE f USING fts5(body);
INSERT INTO f VALUES ('the quick brown fox'), ('jumps over the lazy dog');
SELECT highlight(f, 0, '[', ']') FROM f WHERE f MATCH 'quick OR lazy' ORDER BY rank;
CREATE VIRTUAL TABLE r USING rtree(id, x0, x1);
INSERT INTO r VALUES (1, 0, 10);
SELECT id FROM r WHERE x0 < 5;
