"""The baseline of the web benchmark: a bare Flask app with one route returning "hello".

Served by gunicorn exactly like ``bench/tenancy_wsgi.py``, so their ratio shows what
tenancy (host → setting, schema bound per transaction, one row read) costs.
"""

from flask import Flask

app = Flask(__name__)


@app.get("/hello")
def hello() -> str:
    return "hello"
