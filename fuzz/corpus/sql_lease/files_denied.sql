ATTACH DATABASE '/tmp/sqlpool-fuzz-attached.db' AS a;
ATTACH ':memory:' AS m;
ATTACH 'fi' || 'le.db' AS e;
VACUUM INTO '/tmp/sqlpool-fuzz-vacuum.db';
VACUUM;
DETACH a;
