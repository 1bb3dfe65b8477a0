"""The way users already know: one-file Flask, the peer bench/run measures the handler against.

The same three functions as the handler, written the way the classic examples write them:

- hello:   GET,POST /api/hello?name=Ada -> <b>Hello</b> Ada! (HTML-escaped like the handler)
- records: POST /api/records (JSON {"name", "price"}) -> 201 + Location; GET /api/records/<id>,
           on sqlite3 with a connection per request (Flask's tutorial pattern)
- status:  GET /api/status?mode=tube,overground -> {"Bakerloo": "Good Service", ...}, a straight
           proxy of $TFL_API_BASE/Line/Mode/{modes}/Status (no cache, as in the classic status.py)

Served by `gunicorn -w $(nproc) flask_app:app` and by `flask --app flask_app run`.
Settings: FLASK_DB (sqlite file, default ./fruit.sqlite3), TFL_API_BASE (default TfL itself).
"""

import json
import os
import sqlite3
import urllib.request

from flask import Flask, abort, g, jsonify, request

app = Flask(__name__)
DATABASE = os.environ.get("FLASK_DB", "fruit.sqlite3")
TFL_API_BASE = os.environ.get("TFL_API_BASE", "https://api.tfl.gov.uk").rstrip("/")

# The handler's html_escape::encode_safe: & < > " ' and /.
_ESCAPES = str.maketrans(
    {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#x27;", "/": "&#x2F;"}
)


@app.route("/api/hello", methods=["GET", "POST"])
def hello():
    name = request.args.get("name") or request.values.get("name")
    if not name and request.is_json:
        name = (request.get_json(silent=True) or {}).get("name")
    name = name or "World"
    if len(name) > 100:
        return jsonify(error={"code": "invalid_input", "message": "name is too long"}), 400
    return f"<b>Hello</b> {name.translate(_ESCAPES)}!", {"Content-Type": "text/html; charset=utf-8"}


def get_db():
    if "db" not in g:
        g.db = sqlite3.connect(DATABASE)
        g.db.row_factory = sqlite3.Row
    return g.db


@app.teardown_appcontext
def close_db(_exception):
    db = g.pop("db", None)
    if db is not None:
        db.close()


def init_db():
    with sqlite3.connect(DATABASE) as db:
        db.execute(
            "CREATE TABLE IF NOT EXISTS fruit (id INTEGER PRIMARY KEY AUTOINCREMENT,"
            " name TEXT NOT NULL, price INTEGER NOT NULL)"
        )


@app.post("/api/records")
def create_record():
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("name"), str) or not isinstance(body.get("price"), int):
        return jsonify(error={"code": "invalid_input", "message": "give name and price"}), 400
    db = get_db()
    cursor = db.execute("INSERT INTO fruit (name, price) VALUES (?, ?)", (body["name"], body["price"]))
    db.commit()
    record = {"id": cursor.lastrowid, "name": body["name"], "price": body["price"]}
    return jsonify(record), 201, {"Location": f"/api/records/{cursor.lastrowid}"}


@app.get("/api/records/<int:record_id>")
def get_record(record_id):
    row = get_db().execute("SELECT id, name, price FROM fruit WHERE id = ?", (record_id,)).fetchone()
    if row is None:
        abort(404)
    return jsonify(dict(row))


@app.get("/api/status")
def status():
    modes = request.args.get("mode", "tube,overground")
    with urllib.request.urlopen(f"{TFL_API_BASE}/Line/Mode/{modes}/Status", timeout=10) as reply:
        lines = json.load(reply)
    return jsonify(
        {
            line["name"]: ", ".join(s["statusSeverityDescription"] for s in line["lineStatuses"]) or "Unknown"
            for line in lines
        }
    )


@app.get("/")
def readiness():
    return "ready"


init_db()
