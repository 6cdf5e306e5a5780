"""deploy/nginx-aisha.conf, the reverse-proxy example, run by a real nginx (skipped where nginx is not installed) in
front of a recording backend: TLS, a webhook body over 1 MiB refused with 413 and never passed on (declared or
chunked), updates of the usual size and larger admin uploads passed on, plain http redirected to https."""

import http.server
import os
import re
import shutil
import socket
import ssl
import subprocess
import threading
from pathlib import Path

import pytest

from botworker.webhook_guard import MAX_BODY_BYTES, PATH_PREFIX
from tests.support.processes import ROOT, free_port, wait_until

EXAMPLE = ROOT / "deploy" / "nginx-aisha.conf"
HOST = "bot.example.com"
WEBHOOK = f"/{PATH_PREFIX}0123456789abcdef0123456789abcdef/"


def test_the_example_limits_webhook_bodies_to_one_mebibyte_behind_tls():
    text = EXAMPLE.read_text()
    webhook = re.search(r"location /" + re.escape(PATH_PREFIX) + r" \{(.*?)\}", text, re.S)
    assert webhook, "no location for the webhook path"
    assert re.search(r"client_max_body_size\s+1m;", webhook.group(1))
    assert "proxy_pass http://aisha_web;" in webhook.group(1)
    assert re.search(r"listen 443 ssl", text) and "ssl_certificate " in text and "ssl_certificate_key " in text
    assert "server 127.0.0.1:8000;" in text  # deploy/aisha-web.service's WEB_BIND
    assert "X-Forwarded-Proto $scheme" in text


class Backend(http.server.ThreadingHTTPServer):
    """Stands for the web processes: records every request that reaches it."""

    def __init__(self):
        self.seen: list[dict] = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                server.seen.append({"path": self.path, "headers": dict(self.headers), "size": len(body)})
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        super().__init__(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()


@pytest.fixture
def proxy(tmp_path):
    nginx = shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx",) if Path(p).exists()), None)
    if not nginx or not shutil.which("openssl"):
        pytest.skip("needs nginx and openssl (apt-get install nginx-light)")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", f"/CN={HOST}",
                    "-keyout", str(tmp_path / "key.pem"), "-out", str(tmp_path / "cert.pem")],
                   check=True, capture_output=True)
    backend = Backend()
    http_port, https_port = free_port(), free_port()
    site = (EXAMPLE.read_text()
            .replace("server 127.0.0.1:8000;", f"server 127.0.0.1:{backend.server_address[1]};")
            .replace("listen 80;", f"listen 127.0.0.1:{http_port};").replace("listen [::]:80;", "")
            .replace("listen 443 ssl http2;", f"listen 127.0.0.1:{https_port} ssl http2;")
            .replace("listen [::]:443 ssl http2;", "")
            .replace(f"/etc/letsencrypt/live/{HOST}/fullchain.pem", str(tmp_path / "cert.pem"))
            .replace(f"/etc/letsencrypt/live/{HOST}/privkey.pem", str(tmp_path / "key.pem")))
    temp_paths = "\n".join(f"{kind}_temp_path {tmp_path / kind};"
                           for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    (tmp_path / "nginx.conf").write_text(
        ("user root;\n" if os.geteuid() == 0 else "")  # else the workers run as nobody, who cannot read tmp_path
        + f"worker_processes 1;\npid {tmp_path / 'nginx.pid'};\nerror_log {tmp_path / 'error.log'};\n"
        f"events {{ worker_connections 64; }}\n"
        f"http {{\naccess_log {tmp_path / 'access.log'};\n{temp_paths}\n{site}\n}}\n")
    process = subprocess.Popen([nginx, "-p", str(tmp_path), "-e", str(tmp_path / "error.log"),
                                "-c", str(tmp_path / "nginx.conf"), "-g", "daemon off;"],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        wait_until(lambda: _listening(https_port) or process.poll() is not None, timeout=20, message="nginx")
        if process.poll() is not None:
            raise AssertionError(f"nginx exited: {process.stdout.read().decode()}")
        yield backend, http_port, https_port
    finally:
        process.terminate()
        process.wait(10)
        backend.shutdown()
        backend.server_close()


def _listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        return True
    except OSError:
        return False


def request(port: int, path: str, headers: str, body_parts=(), *, tls: bool = True) -> bytes:
    """Sends the request head and as much of the body as nginx takes; returns the head of its answer."""
    raw = socket.create_connection(("127.0.0.1", port), timeout=20)
    if tls:
        context = ssl.create_default_context()
        context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
        raw = context.wrap_socket(raw, server_hostname=HOST)
    with raw as sock:
        sock.sendall(f"POST {path} HTTP/1.1\r\nHost: {HOST}\r\n{headers}\r\n".encode())
        try:
            for part in body_parts:
                sock.sendall(part)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            pass  # answered and closed before taking all of it
        answer = b""
        while b"\r\n\r\n" not in answer and (chunk := sock.recv(65536)):
            answer += chunk
        return answer


def test_nginx_with_the_example_refuses_large_webhook_bodies_and_passes_the_rest(proxy):
    backend, http_port, https_port = proxy
    assert request(https_port, WEBHOOK, f"Content-Length: {2 * MAX_BODY_BYTES}\r\n").startswith(b"HTTP/1.1 413")
    chunk = b"x" * 65536
    framed = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
    answer = request(https_port, WEBHOOK, "Transfer-Encoding: chunked\r\n",
                     [framed] * (MAX_BODY_BYTES // len(chunk) + 2) + [b"0\r\n\r\n"])
    assert answer.startswith(b"HTTP/1.1 413")
    assert backend.seen == []  # neither reached the web processes

    update = b'{"update_id": 1, "message": {}}'
    assert request(https_port, WEBHOOK, f"Content-Length: {len(update)}\r\n", [update]).startswith(b"HTTP/1.1 200")
    big_upload = b"x" * (2 * MAX_BODY_BYTES)  # the admin's photos may be larger than an update
    assert request(https_port, "/admin/broadcasts/broadcast/add/", f"Content-Length: {len(big_upload)}\r\n",
                   [big_upload]).startswith(b"HTTP/1.1 200")
    assert [(r["path"], r["size"]) for r in backend.seen] == [(WEBHOOK, len(update)),
                                                             ("/admin/broadcasts/broadcast/add/", len(big_upload))]
    assert backend.seen[0]["headers"]["X-Forwarded-Proto"] == "https"
    assert backend.seen[0]["headers"]["Host"] == HOST

    plain = request(http_port, WEBHOOK, "Content-Length: 0\r\n", tls=False)
    assert plain.startswith(b"HTTP/1.1 301") and f"Location: https://{HOST}{WEBHOOK}".encode() in plain
