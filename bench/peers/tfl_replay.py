"""A local stand-in for the TfL Unified API, for bench/run: answers every
GET /Line/Mode/{modes}/Status with one recorded response (a JSON file given as argv[2]).

    python3 tfl_replay.py PORT FILE

Both the handler (TFL_API_BASE=http://127.0.0.1:PORT) and the Flask peer read it, so the
status rows measure the servers, not the internet.
"""

import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Replay(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    body = b"[]"

    def do_GET(self):
        path = self.path.split("?", 1)[0]
        if path.startswith("/Line/Mode/") and path.endswith("/Status"):
            status, body = 200, self.body
        else:
            status, body = 404, b'{"$type": "Tfl.Api.Presentation.Entities.ApiError", "httpStatusCode": 404}'
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


if __name__ == "__main__":
    with open(sys.argv[2], "rb") as f:
        Replay.body = f.read()
    ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Replay).serve_forever()
