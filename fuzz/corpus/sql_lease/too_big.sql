SELECT length(randomblob(2000000));
SELECT zeroblob(999999999);
SELECT printf('%.*c', 5000000, 'x');
