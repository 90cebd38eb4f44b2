"""A local HTTP file server that answers HEAD and Range requests and counts the bytes it sends.

Tests (and ``benchmarks/province_window.py``) serve a folder on 127.0.0.1 with it, read a raster
through GDAL's ``/vsicurl/``, and check how much of the file was fetched. Single ranges
(``bytes=a-b``, ``bytes=a-``, ``bytes=-n``) get a 206 answer, several ranges a
``multipart/byteranges`` one; a missing file is a 404.
"""

from __future__ import annotations

import re
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

_RANGE = re.compile(r"^\s*(\d*)\s*-\s*(\d*)\s*$")
_BOUNDARY = "geocarbon-range-boundary"


@dataclass
class Served:
    """What the server sent: body bytes and requests per path (``/national.tif``)."""

    bytes_by_path: Counter[str] = field(default_factory=Counter)
    requests_by_path: Counter[str] = field(default_factory=Counter)
    ranges_by_path: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, path: str, n_bytes: int, n_ranges: int) -> None:
        with self.lock:
            self.bytes_by_path[path] += n_bytes
            self.requests_by_path[path] += 1
            self.ranges_by_path[path] += n_ranges

    def reset(self) -> None:
        with self.lock:
            self.bytes_by_path.clear()
            self.requests_by_path.clear()
            self.ranges_by_path.clear()


@dataclass(frozen=True)
class RangeServer:
    """A running server: its base URL (``http://127.0.0.1:PORT``), the folder it serves and what
    it has served."""

    url: str
    folder: Path
    served: Served


@contextmanager
def serve(folder: Path) -> Iterator[RangeServer]:
    """Serve ``folder`` on a free port of 127.0.0.1 until the context ends."""
    served = Served()

    class Handler(_RangeHandler):
        root = folder
        counter = served

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield RangeServer(f"http://127.0.0.1:{server.server_address[1]}", folder, served)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


class _RangeHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as GDAL's curl expects of a file server
    root: Path
    counter: Served

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (the base's name)
        """Quiet: tests read the counters, not a log."""

    def do_HEAD(self) -> None:
        self._answer(body=False)

    def do_GET(self) -> None:
        self._answer(body=True)

    def _answer(self, *, body: bool) -> None:
        path = unquote(urlsplit(self.path).path)
        file = (self.root / path.lstrip("/")).resolve()
        if not file.is_file() or self.root.resolve() not in file.parents:
            self._send(404, {"Content-Type": "text/plain"}, b"not found\n", body=body, path=path)
            return
        size = file.stat().st_size
        content_type = "application/json" if file.suffix == ".json" else "image/tiff"
        header = self.headers.get("Range")
        ranges = _parse_ranges(header, size) if header else None
        if ranges is None or not body:
            headers = {"Content-Type": content_type, "Accept-Ranges": "bytes"}
            payload = file.read_bytes() if body else b""
            headers["Content-Length"] = str(size)
            self._send(200, headers, payload, body=body, path=path, n_ranges=0)
        elif not ranges:
            headers = {"Content-Range": f"bytes */{size}"}
            self._send(416, headers, b"", body=body, path=path)
        elif len(ranges) == 1:
            start, end = ranges[0]
            headers = {
                "Content-Type": content_type,
                "Accept-Ranges": "bytes",
                "Content-Range": f"bytes {start}-{end}/{size}",
            }
            payload = _read(file, start, end)
            self._send(206, headers, payload, body=body, path=path, n_ranges=1)
        else:
            parts = []
            for start, end in ranges:
                parts.append(
                    f"--{_BOUNDARY}\r\nContent-Type: {content_type}\r\n"
                    f"Content-Range: bytes {start}-{end}/{size}\r\n\r\n".encode()
                    + _read(file, start, end)
                    + b"\r\n"
                )
            payload = b"".join(parts) + f"--{_BOUNDARY}--\r\n".encode()
            headers = {"Content-Type": f"multipart/byteranges; boundary={_BOUNDARY}"}
            self._send(206, headers, payload, body=body, path=path, n_ranges=len(ranges))

    def _send(
        self,
        status: int,
        headers: dict[str, str],
        payload: bytes,
        *,
        body: bool,
        path: str,
        n_ranges: int = 0,
    ) -> None:
        self.send_response(status)
        headers.setdefault("Content-Length", str(len(payload)))  # a HEAD gives the file's size
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        if body:
            self.wfile.write(payload)
        self.counter.add(path, len(payload) if body else 0, n_ranges)


def _read(file: Path, start: int, end: int) -> bytes:
    with file.open("rb") as handle:
        handle.seek(start)
        return handle.read(end - start + 1)


def _parse_ranges(header: str, size: int) -> list[tuple[int, int]] | None:
    """``bytes=a-b,c-d`` as inclusive (start, end) pairs within ``size``; None when the header is
    not a byte range (the whole file is sent), [] when no range is satisfiable."""
    unit, _, spec = header.partition("=")
    if unit.strip().lower() != "bytes":
        return None
    ranges = []
    for part in spec.split(","):
        match = _RANGE.match(part)
        if match is None or match.groups() == ("", ""):
            return None
        first, last = match.groups()
        if first == "":
            start, end = max(0, size - int(last)), size - 1
        else:
            start, end = int(first), min(int(last) if last else size - 1, size - 1)
        if start <= end:
            ranges.append((start, end))
    return ranges
