"""The web process: answers HTTP on $PORT, as Heroku's router expects, and logs each request."""

import http.server
import os
import signal
import sys


class Hello(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = f"Hello from {os.environ.get('DYNO', 'web')} ({os.environ.get('DYNO_SIZE')})\n"
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        print(f"{self.command} {self.path} {args[1] if len(args) > 1 else ''}", flush=True)


# Heroku (and Kubernetes) stop a dyno with SIGTERM, then SIGKILL 30 s later: stop at once.
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
port = int(os.environ["PORT"])
print(f"listening on :{port}", flush=True)
http.server.ThreadingHTTPServer(("0.0.0.0", port), Hello).serve_forever()
