CREATE TABLE w(g, v);
INSERT INTO w SELECT value % 3, value FROM json_each('[1,2,3,4,5,6,7]');
SELECT g, v, sum(v) OVER (PARTITION BY g ORDER BY v ROWS BETWEEN 1 PRECEDING AND CURRENT ROW), json_group_array(v) OVER () FROM w;
SELECT json_extract('{"a":[1,{"b":2}]}', '$.a[1].b'), json_patch('{}', '{"x":1}');
