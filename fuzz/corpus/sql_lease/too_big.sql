SELECT length(randomblob(2000000));
SELECT zeroblob(999999999);
SELECT hex(randomblob(600000));
