SELECT length(99999999);
SELECT printf('%.*c', 5000000, 'x');
