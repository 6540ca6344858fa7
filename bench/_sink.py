"""A Klaviyo stand-in inside the push process that keeps nothing: for measuring the loader's
own peak memory on audiences the emulator could not hold (10M profiles would need ~20 GB in
the emulator). It answers the few calls an initial push makes, at the ``requests`` transport
level, so the loader runs unchanged (its ``KlaviyoClient`` over a ``requests.Session``): every
import job is accepted and reported complete with nothing refused. It lives as long as one
push process; one adapter mounted on each push of one process (``bench/statements_bench.py
--sink``) also serves the pushes after the first: a profile look-up answers an id made from
each value asked (``P:<value>``, as if every value were a profile) and a removal is accepted.
Bench only; tests use the emulator.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import unquote_plus

import requests
from requests.adapters import BaseAdapter

JOB = re.compile(r"/api/profile-bulk-import-jobs/([^/?]+)$")
ANY = re.compile(r"any\((\w+),\[(.*?)\]\)")  # a look-up's filter: the field, its values
VALUE = re.compile(r'"((?:[^"\\]|\\.)*)"')


class SinkAdapter(BaseAdapter):
    def __init__(self) -> None:
        super().__init__()
        self.lists: dict[str, str] = {}  # name -> id
        self.jobs: dict[str, int] = {}  # id -> profiles (counted from the body, not parsed)
        self.body_bytes = 0

    def _job(self, job_id: str) -> dict[str, Any]:
        n = self.jobs.get(job_id, 0)
        return {"type": "profile-bulk-import-job", "id": job_id,
                "attributes": {"status": "complete", "created_at": "2026-01-01T00:00:00+00:00",
                               "total_count": n, "completed_count": n, "failed_count": 0}}

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        path = (request.path_url or "").split("?")[0]
        method = request.method or "GET"
        status, doc = 200, None
        if path == "/api/accounts":
            doc = {"data": [{"type": "account", "id": "sink-account", "attributes": {}}]}
        elif path == "/api/lists" and method == "GET":
            doc = {"data": [{"type": "list", "id": i, "attributes": {"name": n}}
                            for n, i in self.lists.items()
                            if f'"{n}"' in unquote_plus(request.url or "")], "links": {}}
        elif path == "/api/lists" and method == "POST":
            name = json.loads(request.body or b"{}")["data"]["attributes"]["name"]
            list_id = f"L{len(self.lists) + 1}"
            self.lists[name] = list_id
            status, doc = 201, {"data": {"type": "list", "id": list_id,
                                         "attributes": {"name": name}}}
        elif path == "/api/profile-bulk-import-jobs" and method == "POST":
            body = request.body if isinstance(request.body, bytes) else (
                request.body or "").encode()
            self.body_bytes += len(body)
            job_id = f"job-{len(self.jobs) + 1}"
            self.jobs[job_id] = body.count(b'{"type":"profile"')
            status, doc = 202, {"data": self._job(job_id)}
        elif path == "/api/profile-bulk-import-jobs":
            doc = {"data": [self._job(j) for j in reversed(self.jobs)], "links": {}}
        elif (m := JOB.search(path)) and method == "GET":
            doc = {"data": self._job(m.group(1))}
        elif path == "/api/profiles" and method == "GET":
            query = unquote_plus((request.url or "").partition("?")[2])
            found = ANY.search(query)
            doc = {"data": [{"type": "profile", "id": f"P:{v}",
                             "attributes": {found.group(1): v}}
                            for v in VALUE.findall(found.group(2))] if found else [],
                   "links": {}}
        elif path.endswith("/relationships/profiles") and method == "DELETE":
            status, doc = 204, None
        else:  # the scope probes' PATCHes of ids nobody has
            status, doc = 404, {"errors": [{"status": "404", "code": "not_found",
                                            "title": "Not found", "detail": "Not found"}]}
        resp = requests.Response()
        resp.status_code = status
        resp._content = b"" if doc is None else json.dumps(doc).encode()
        resp.headers["Content-Type"] = "application/vnd.api+json"
        resp.url = request.url or ""
        resp.request = request
        return resp

    def close(self) -> None:
        pass
