"""An external job service speaking the seed's contract: the "ML" and "backtest" services of
seed 000 in one process (the standard library only). The README's jobs walkthrough and the
end-to-end tests run it.

Usage: python3 seed_services.py OUT_DIR [PORT]

Listens on 127.0.0.1:PORT (default: a free port), prints the port on stdout, then serves until
killed:
- GET /health: 200.
- POST /execute {"job_id", "type", "payload", "metadata"}:
  - type ml_experiment (or ml_experiment_once): trains a "model" (a file under OUT_DIR written
    from the payload) and answers completed with {"accuracy": ...} and a `model` artifact (path,
    sha256, size). payload.sleep (seconds) makes it slow.
  - type backtest: needs payload.model to be an artifact descriptor (what the orchestrator puts
    in place of `artifact://<id>`); reads that file, checks its sha256, and answers completed
    with {"sharpe": ..., "model_checksum": ...} and a `metrics` artifact.
  - anything else: answers failed.
Every execution appends "<type> <job_id>" to OUT_DIR/executions.log.
"""

import hashlib
import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

OUT = sys.argv[1]
os.makedirs(OUT, exist_ok=True)
PORT = int(sys.argv[2]) if len(sys.argv) > 2 else 0
LOCK = threading.Lock()


def artifact(name, kind, path, **extra):
    data = open(path, "rb").read()
    return {
        "name": name,
        "type": kind,
        "storage_location": path,
        "checksum": "sha256:" + hashlib.sha256(data).hexdigest(),
        "size_bytes": len(data),
        "service_id": "seed-services",
        **extra,
    }


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):  # keep stderr quiet
        pass

    def answer(self, code, body):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path == "/health":
            self.answer(200, {"status": "ok"})
        else:
            self.answer(404, {"error": "not found"})

    def do_POST(self):
        if self.path != "/execute":
            self.answer(404, {"error": "not found"})
            return
        req = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        kind, job, payload = req["type"], req["job_id"], req.get("payload") or {}
        with LOCK:
            with open(os.path.join(OUT, "executions.log"), "a") as log:
                log.write(f"{kind} {job}\n")
        time.sleep(float(payload.get("sleep", 0)))
        if kind.startswith("ml_experiment"):
            path = os.path.join(OUT, f"model-{job}.bin")
            with open(path, "w") as f:
                json.dump({"weights": [0.1, 0.2], "payload": payload}, f)
            self.answer(200, {
                "status": "completed",
                "result": {"accuracy": 0.93, "metadata": req.get("metadata")},
                "artifacts": [artifact("model.bin", "model", path, tags=["ml"],
                                       description="trained weights")],
            })
        elif kind == "backtest":
            model = payload.get("model")
            if not isinstance(model, dict) or "storage_location" not in model:
                self.answer(200, {"status": "failed", "error": "payload.model is not an artifact"})
                return
            data = open(model["storage_location"], "rb").read()
            digest = "sha256:" + hashlib.sha256(data).hexdigest()
            if digest != model.get("checksum"):
                self.answer(200, {"status": "failed", "error": "model checksum mismatch"})
                return
            path = os.path.join(OUT, f"metrics-{job}.json")
            with open(path, "w") as f:
                json.dump({"sharpe": 1.4}, f)
            self.answer(200, {
                "status": "completed",
                "result": {"sharpe": 1.4, "model_checksum": digest},
                "artifacts": [artifact("metrics.json", "metrics", path)],
            })
        else:
            self.answer(200, {"status": "failed", "error": f"unknown type {kind}"})


class Server(ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        pass  # a client that hung up (a cancelled job) is not news


server = Server(("127.0.0.1", PORT), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
