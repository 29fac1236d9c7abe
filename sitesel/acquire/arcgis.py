"""Page through an ArcGIS REST FeatureServer (or MapServer) layer query.

A layer answers at most ``maxRecordCount`` features per query and says so with
``exceededTransferLimit``; the rest come with ``resultOffset``/``resultRecordCount``, ordered by the
object-id field so pages neither overlap nor skip. Features are asked for as GeoJSON in WGS84 and
written, as received, one per line (GeoJSONSeq), which any GDAL reads.
"""
from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

import requests
from tqdm import tqdm

from sitesel.acquire.http import RetryPolicy, describe_http_error, http_session
from sitesel.errors import FetchError

__all__ = ["PagingLog", "download_layer", "layer_info"]


@dataclass
class PagingLog:
    """What a paged download did: the (offset, features) of every page."""

    pages: list[tuple[int, int]]
    max_record_count: int
    total: int | None


def _get_json(session: requests.Session, url: str, params: dict, policy: RetryPolicy) -> dict:
    try:
        r = session.get(url, params=params, timeout=policy.timeout)
        r.raise_for_status()
    except requests.RequestException as exc:
        raise FetchError(describe_http_error(url, exc, policy)) from None
    try:
        doc = r.json()
    except ValueError:
        raise FetchError(f"{url}: the server did not answer JSON (is this an ArcGIS REST layer URL?)") from None
    if isinstance(doc, dict) and "error" in doc:  # ArcGIS reports errors in a 200 answer
        err = doc["error"]
        raise FetchError(f"{url}: ArcGIS error {err.get('code', '')}: {err.get('message', err)}")
    return doc


def layer_info(url: str, session: requests.Session | None = None, policy: RetryPolicy = RetryPolicy()) -> dict:
    """The layer's metadata (``?f=json``): fields, maxRecordCount, objectIdField, capabilities.

    Parameters
    ----------
    url : str
        The layer's REST address (``.../FeatureServer/0``).
    session : requests.Session, optional
        Default: a new :func:`~sitesel.acquire.http.http_session`.
    policy : RetryPolicy
        Retries and backoff.

    Returns
    -------
    dict

    Raises
    ------
    FetchError
        The service cannot be reached or answers with an error.
    """
    return _get_json(session or http_session(policy), url.rstrip("/"), {"f": "json"}, policy)


def download_layer(url: str, dest: Path, *, where: str = "1=1", fields: tuple[str, ...] = (),
                   bbox: tuple[float, float, float, float] | None = None, page_size: int | None = None,
                   session: requests.Session | None = None, policy: RetryPolicy = RetryPolicy(),
                   label: str = "", progress: bool = True) -> PagingLog:
    """Download every feature of an ArcGIS layer query into a GeoJSONSeq file.

    Parameters
    ----------
    url : str
        The layer URL (``.../FeatureServer/0``).
    dest : Path
        Output file (GeoJSONSeq, EPSG:4326); written to a temporary name and moved into place.
    where : str
        Server-side attribute filter.
    fields : tuple of str
        Attribute fields to ask for (all when empty).
    bbox : tuple, optional
        Only features intersecting this lon/lat box (server-side envelope filter).
    page_size : int, optional
        Features per page; never more than the layer's ``maxRecordCount``.

    Returns
    -------
    PagingLog
    """
    session = session or http_session(policy)
    url = url.rstrip("/")
    info = layer_info(url, session, policy)
    max_count = int(info.get("maxRecordCount") or 1000)
    per_page = min(page_size or max_count, max_count)
    oid = info.get("objectIdField") or next(
        (f["name"] for f in info.get("fields", []) if f.get("type") == "esriFieldTypeOID"), None)
    query = {"where": where, "outFields": ",".join(fields) if fields else "*", "outSR": "4326",
             "returnGeometry": "true", "f": "geojson"}
    if bbox is not None:
        query |= {"geometry": ",".join(f"{v:.6f}" for v in bbox), "geometryType": "esriGeometryEnvelope",
                  "inSR": "4326", "spatialRel": "esriSpatialRelIntersects"}
    if oid:
        query["orderByFields"] = oid
    total = _get_json(session, f"{url}/query", query | {"returnCountOnly": "true", "f": "json"}, policy).get("count")
    log = PagingLog(pages=[], max_record_count=max_count, total=total)
    tmp = dest.with_name(dest.name + ".tmp")
    dest.parent.mkdir(parents=True, exist_ok=True)
    offset = 0
    with open(tmp, "w", encoding="utf-8") as out, tqdm(total=total, unit=" features", desc=label or url,
                                                        disable=not progress or None, file=sys.stderr,
                                                        leave=False) as bar:
        while True:
            page = _get_json(session, f"{url}/query",
                             query | {"resultOffset": str(offset), "resultRecordCount": str(per_page)}, policy)
            feats = page.get("features") or []
            for feat in feats:
                out.write(json.dumps(feat, separators=(",", ":")))
                out.write("\n")
            log.pages.append((offset, len(feats)))
            bar.update(len(feats))
            offset += len(feats)  # the server may send fewer than asked (its own limit)
            exceeded = page.get("exceededTransferLimit") or (page.get("properties") or {}).get("exceededTransferLimit")
            if not feats or not exceeded:
                break
    if total is not None and offset != total:
        tmp.unlink()
        raise FetchError(f"{url}: paging returned {offset:,} features but the layer reports {total:,}; "
                         "the service may not support resultOffset paging")
    tmp.replace(dest)
    return log
