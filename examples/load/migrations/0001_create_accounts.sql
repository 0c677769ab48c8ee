-- The table sqlpool-load works on: one counter per account.
CREATE TABLE accounts(id INTEGER PRIMARY KEY, counter INTEGER NOT NULL DEFAULT 0);
