"""Local HTTP servers for the fetch tests (loopback only, stopped by the tests).

* :class:`StaticServer` serves files from a folder with HTTP Range support (what GDAL's /vsicurl/
  and resumable downloads need), and can be told to misbehave for one path: drop the connection
  halfway through the first transfer, answer HTTP 500, or serve corrupted bytes.
* :class:`ArcGISServer` answers ArcGIS REST layer metadata and ``/query`` requests for a
  GeoDataFrame, paging with ``resultOffset``/``resultRecordCount``, a ``maxRecordCount`` and
  ``exceededTransferLimit``, and honouring an envelope filter, like an ArcGIS FeatureServer.
"""
from __future__ import annotations

import json
import re
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlparse

import shapely
from shapely.geometry import mapping


class _Server:
    def __init__(self, handler):
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.httpd.owner = self
        self.log: list[dict] = []
        self._lock = threading.Lock()
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def record(self, **entry) -> None:
        with self._lock:
            self.log.append(entry)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


class _StaticHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # keep test output clean
        pass

    def do_HEAD(self):
        self._serve(head=True)

    def do_GET(self):
        self._serve(head=False)

    def _serve(self, head: bool):
        srv: StaticServer = self.server.owner
        rel = unquote(urlparse(self.path).path).lstrip("/")
        rng = self.headers.get("Range")
        srv.record(method=self.command, path=rel, range=rng)
        fault = srv.faults.get(rel)
        if fault == "500":
            body = b"internal error"
            self.send_response(500)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        f = srv.root / rel
        if not f.is_file():
            self.send_error(404)
            return
        data = f.read_bytes()
        if fault == "corrupt":
            data = data[:100] + bytes([data[100] ^ 0xFF]) + data[101:]
        total = len(data)
        start, end = 0, total - 1
        status = 200
        m = re.match(r"bytes=(\d*)-(\d*)$", rng or "")
        if m:
            if m.group(1):
                start = int(m.group(1))
                end = min(int(m.group(2)), total - 1) if m.group(2) else total - 1
            else:  # suffix range: the last N bytes
                start = max(total - int(m.group(2)), 0)
            if start >= total:
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{total}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            status = 206
        body = data[start:end + 1]
        self.send_response(status)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Length", str(len(body)))
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{end}/{total}")
        self.end_headers()
        if head:
            return
        if fault == "drop" and not srv.dropped.get(rel):
            # Announce the whole body, send half of it, and hang up.
            srv.dropped[rel] = len(body) // 2
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        self.wfile.write(body)


class StaticServer(_Server):
    """Serve the files under ``root``; ``faults[path]`` is "drop", "500" or "corrupt"."""

    def __init__(self, root: Path):
        super().__init__(_StaticHandler)
        self.root = Path(root)
        self.faults: dict[str, str] = {}
        self.dropped: dict[str, int] = {}

    def requests_for(self, rel: str, method: str = "GET") -> list[dict]:
        return [e for e in self.log if e["path"] == rel and e["method"] == method]


class _ArcGISHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def _json(self, doc: dict):
        body = json.dumps(doc).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        srv: ArcGISServer = self.server.owner
        u = urlparse(self.path)
        q = {k: v[0] for k, v in parse_qs(u.query).items()}
        srv.record(path=u.path, query=q)
        if u.path == srv.layer_path:
            return self._json({"name": srv.name, "type": "Feature Layer", "objectIdField": "OBJECTID",
                               "maxRecordCount": srv.max_record_count,
                               "advancedQueryCapabilities": {"supportsPagination": True},
                               "fields": [{"name": "OBJECTID", "type": "esriFieldTypeOID"}]
                               + [{"name": c, "type": "esriFieldTypeDouble"} for c in srv.columns]})
        if u.path != srv.layer_path + "/query":
            return self._json({"error": {"code": 400, "message": "Invalid URL"}})
        if q.get("where", "1=1") != "1=1":
            return self._json({"error": {"code": 400, "message": "Unable to complete operation."}})
        idx = list(range(len(srv.features)))
        if "geometry" in q:
            box = shapely.box(*(float(v) for v in q["geometry"].split(",")))
            idx = [i for i in idx if srv.geoms[i].intersects(box)]
        if q.get("returnCountOnly") == "true":
            return self._json({"count": len(idx)})
        offset = int(q.get("resultOffset", 0))
        n = min(int(q.get("resultRecordCount", srv.max_record_count)), srv.max_record_count)
        page = idx[offset:offset + n]
        doc = {"type": "FeatureCollection", "features": [srv.features[i] for i in page]}
        if offset + n < len(idx):
            doc["properties"] = {"exceededTransferLimit": True}
        return self._json(doc)


class ArcGISServer(_Server):
    """Serve a GeoDataFrame (EPSG:4326) as ``/arcgis/rest/services/<name>/FeatureServer/0``."""

    def __init__(self, gdf, name: str, max_record_count: int = 1000):
        super().__init__(_ArcGISHandler)
        self.name, self.max_record_count = name, max_record_count
        self.layer_path = f"/arcgis/rest/services/{name}/FeatureServer/0"
        self.columns = [c for c in gdf.columns if c != "geometry"]
        self.geoms = list(gdf.geometry.values)
        self.features = []
        for oid, (row, geom) in enumerate(zip(gdf[self.columns].to_dict("records"), self.geoms), start=1):
            props = {"OBJECTID": oid} | {k: (None if v != v else v) for k, v in row.items()}
            self.features.append({"type": "Feature", "id": oid, "geometry": mapping(geom), "properties": props})

    @property
    def layer_url(self) -> str:
        return self.url + self.layer_path

    def query_log(self) -> list[dict]:
        return [e["query"] for e in self.log if e["path"].endswith("/query")]
