PRAGMA journal_mode=OFF;
PRAGMA locking_mode=EXCLUSIVE;
PRAGMA hard_heap_limit=1000;
PRAGMA soft_heap_limit=1000;
PRAGMA temp_store_directory='/tmp';
PRAGMA max_page_count=1;
