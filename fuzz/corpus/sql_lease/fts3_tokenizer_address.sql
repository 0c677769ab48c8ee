SELECT fts3_tokenizer('evil', x'4141414141414141');
CREATE VIRTUAL TABLE temp.t USING fts3(content, tokenize=evil);
INSERT INTO temp.t VALUES ('boom');
