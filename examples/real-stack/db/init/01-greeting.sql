-- Run once, on the database's first start (docker-entrypoint.sh).
CREATE TABLE greeting (id serial PRIMARY KEY, text text NOT NULL);
INSERT INTO greeting (text) VALUES ('Hello from PostgreSQL!');
