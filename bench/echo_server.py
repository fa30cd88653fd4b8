"""The peer benchmark's insurer: an HTTPS keep-alive server (its own process) answering every POST with
one recorded simulator answer, so that neither client's figure includes the simulator's cost.

The recorded answer is made to belong to each request, as a real answer would: its InputReference
(also the suffix of the echoed KMEHR request id, inside the Blob), its ``InResponseTo`` and the Blob's
``HashValue`` are rewritten from the request. Both clients check none of that alike (ours refuses an
answer that is not to its request; zeep checks nothing), so the rewrite keeps ours honest, not slower.

Run by ``bench_peer.py``: ``python echo_server.py PORT CERT KEY ANSWER`` prints ``ready`` when listening.
"""

from __future__ import annotations

import base64
import hashlib
import re
import ssl
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

_INPUT_REF = re.compile(rb"InputReference>([0-9A-Za-z]{1,40})</")
_REQUEST_ID = re.compile(rb"TarificationConsultationRequest\b[^>]*?\sId=\"([^\"]+)\"")
_DETAIL = re.compile(rb"(<[\w:]*Detail\b[^>]*?HashValue=\")[^\"]*(\"[^>]*>)([^<]*)(<)")
_IN_RESPONSE_TO = re.compile(rb"InResponseTo=\"[^\"]*\"")
_XADES_T = re.compile(rb"<([\w]+:)?XadesT\b.*?</([\w]+:)?XadesT>", re.S)


class Answer:
    """The recorded answer, cut once into the parts a request changes."""

    def __init__(self, raw: bytes) -> None:
        raw = _XADES_T.sub(b"", raw)  # the real Tarification service does not sign its answers (tariff.md §3)
        found = _INPUT_REF.search(raw)
        detail = _DETAIL.search(raw)
        if found is None or detail is None:
            raise SystemExit("the recorded answer has no InputReference or no Detail with a HashValue")
        self.old_ref = found.group(1)
        self.blob = base64.b64decode(detail.group(3))
        self.raw = raw
        self.detail = detail

    def for_request(self, request: bytes) -> bytes:
        ref = _INPUT_REF.search(request)
        new_ref = ref.group(1) if ref else self.old_ref
        blob = self.blob.replace(self.old_ref, new_ref)
        d = self.detail
        out = b"".join((self.raw[: d.start()], d.group(1), base64.b64encode(hashlib.sha256(blob).digest()), d.group(2),
                        base64.b64encode(blob), d.group(4), self.raw[d.end():]))
        out = out.replace(b">" + self.old_ref + b"<", b">" + new_ref + b"<")
        request_id = _REQUEST_ID.search(request)
        if request_id:
            out = _IN_RESPONSE_TO.sub(b'InResponseTo="' + request_id.group(1) + b'"', out, count=1)
        return out


def serve(port: int, cert: Path, key: Path, answer: Answer) -> None:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive
        disable_nagle_algorithm = True  # headers and body are two writes: no 40 ms delayed-ACK stall

        def do_POST(self) -> None:  # noqa: N802 - the http.server spelling
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            out = answer.for_request(body)
            self.send_response(200)
            self.send_header("Content-Type", "text/xml; charset=utf-8")
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - quiet
            return

    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(str(cert), str(key))
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    server.socket = tls.wrap_socket(server.socket, server_side=True)
    print("ready", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    serve(int(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]), Answer(Path(sys.argv[4]).read_bytes()))
