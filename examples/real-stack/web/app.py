"""A page that counts its hits in Redis and shows a greeting read from PostgreSQL."""
import os

import psycopg2
import redis
from flask import Flask

app = Flask(__name__)
cache = redis.Redis(host="redis", port=6379)


def greeting():
    conn = psycopg2.connect(host="db", dbname=os.environ["POSTGRES_DB"], user=os.environ["POSTGRES_USER"],
                            password=os.environ["POSTGRES_PASSWORD"], connect_timeout=5)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT text FROM greeting ORDER BY id LIMIT 1")
            return cur.fetchone()[0]
    finally:
        conn.close()


@app.route("/")
def index():
    hits = cache.incr("hits")
    return f"{greeting()} This page has been seen {hits} times.\n"


if __name__ == "__main__":
    app.run(host="0.0.0.0", port=8000)
