"""Validate every request sent to any emulator during the pytest session against Klaviyo's
OpenAPI (``<repo>/../shared/klaviyo-openapi/<operationId>.json``, or ``$KLAVIYO_OPENAPI_DIR``).

Checked: the operation exists (method and path), declared query parameters only and their
values against their schemas, required headers (``revision``) and ``Authorization``, the
request content type, and the JSON body against the operation's request schema (jsonschema);
and the emulator's answer against the documented response for its status (so the emulator is
held to the contract as well as its callers).
When the folder is absent nothing is recorded and the check is skipped.
"""

from __future__ import annotations

import json
import os
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]


def openapi_dir() -> Path | None:
    raw = os.environ.get("KLAVIYO_OPENAPI_DIR")
    path = Path(raw) if raw else REPO.parent / "shared" / "klaviyo-openapi"
    return path if path.is_dir() and any(path.glob("*.json")) else None


def _nullable_to_jsonschema(node: Any) -> Any:
    """OpenAPI 3.0 ``nullable: true`` → JSON Schema (``null`` allowed)."""
    if isinstance(node, list):
        return [_nullable_to_jsonschema(x) for x in node]
    if not isinstance(node, dict):
        return node
    out = {k: _nullable_to_jsonschema(v) for k, v in node.items()
           if k not in ("nullable", "example", "description")}
    if node.get("nullable"):
        if isinstance(out.get("type"), str):
            out["type"] = [out["type"], "null"]
            if "enum" in out:
                out["enum"] = [*out["enum"], None]
        else:
            out = {"anyOf": [out, {"type": "null"}]}
    return out


@dataclass
class SpecOperation:
    op_id: str
    method: str
    template: str
    pattern: re.Pattern[str]
    operation: dict[str, Any]
    components: dict[str, Any]


class Contract:
    """The operations of one OpenAPI folder, and a check of one recorded request."""

    def __init__(self, folder: Path) -> None:
        self.ops: list[SpecOperation] = []
        self._validators: dict[str, Any] = {}
        for file in sorted(folder.glob("*.json")):
            doc = json.loads(file.read_text())
            components = _nullable_to_jsonschema(doc.get("components", {}))
            for template, methods in doc.get("paths", {}).items():
                for method, op in methods.items():
                    if not isinstance(op, dict) or "operationId" not in op:
                        continue
                    rx = re.compile("^" + re.sub(r"\{\w+\}", "[^/]+", template) + "/?$")
                    self.ops.append(SpecOperation(op["operationId"], method.upper(), template,
                                                  rx, op, components))

    def find(self, method: str, path: str) -> SpecOperation | None:
        for op in self.ops:
            if op.method == method and op.pattern.match(path):
                return op
        return None

    def _body_validator(self, op: SpecOperation) -> Any:
        if op.op_id not in self._validators:
            import jsonschema

            content = op.operation["requestBody"]["content"]
            schema = next(iter(content.values()))["schema"]
            schema = {**_nullable_to_jsonschema(schema), "components": op.components}
            self._validators[op.op_id] = jsonschema.Draft7Validator(schema)
        return self._validators[op.op_id]

    def _response_validator(self, op: SpecOperation, status: int) -> Any | None:
        responses = op.operation.get("responses", {})
        spec = responses.get(str(status)) or responses.get(f"{str(status)[0]}XX")
        if spec is None:
            return None
        if "$ref" in spec:
            spec = op.components["responses"][spec["$ref"].rsplit("/", 1)[-1]]
        content = spec.get("content")
        if not content:
            return None
        key = (op.op_id, status)
        if key not in self._validators:
            import jsonschema

            schema = next(iter(content.values()))["schema"]
            schema = {**_nullable_to_jsonschema(schema), "components": op.components}
            self._validators[key] = jsonschema.Draft7Validator(schema)
        return self._validators[key]

    def check_response(self, rec: dict[str, Any]) -> list[str]:
        """The emulator's own answer against the operation's response schema for its status."""
        op = self.find(rec["method"], rec["path"])
        if op is None or not rec.get("status"):
            return []
        declared = op.operation.get("responses", {})
        status = rec["status"]
        if str(status) not in declared and f"{str(status)[0]}XX" not in declared:
            return [f"{op.op_id}: status {status} is not a documented response"]
        validator = self._response_validator(op, status)
        if validator is None:
            return [] if rec.get("response") is None else [
                f"{op.op_id}: status {status} must have no body"]
        errors = sorted(validator.iter_errors(rec.get("response")), key=lambda e: list(e.path))
        return [f"{op.op_id}: response {status} /"
                + "/".join(str(x) for x in e.absolute_path) + f": {e.message[:200]}"
                for e in errors[:5]]

    def check(self, rec: dict[str, Any]) -> list[str]:
        method, path = rec["method"], rec["path"]
        op = self.find(method, path)
        if op is None:
            return [f"no operation in the OpenAPI for {method} {path}"]
        problems: list[str] = []
        params = op.operation.get("parameters", [])
        headers = rec["headers"]
        for p in params:
            if p["in"] == "header" and p.get("required") and p["name"].lower() not in headers:
                problems.append(f"missing required header '{p['name']}'")
        if "authorization" not in headers:
            problems.append("missing Authorization header")
        elif headers["authorization"].split(" ", 1)[0] not in ("Klaviyo-API-Key", "Bearer"):
            problems.append("Authorization is neither 'Klaviyo-API-Key …' nor 'Bearer …'")
        declared = {p["name"]: p for p in params if p["in"] == "query"}
        seen: set[str] = set()
        for name, value in rec["query"]:
            if name in seen:
                problems.append(f"query parameter '{name}' given twice")
            seen.add(name)
            if name not in declared:
                problems.append(f"undeclared query parameter '{name}'")
                continue
            problems += _check_query_value(name, value, declared[name].get("schema", {}))
        body_spec = op.operation.get("requestBody")
        body = rec["body"]
        if body_spec is None:
            if body not in (None, ""):
                problems.append("a request body was sent but the operation takes none")
        else:
            ctype = (headers.get("content-type") or "").split(";")[0].strip()
            if ctype not in body_spec["content"]:
                problems.append(f"content type '{ctype}' is not one of "
                                f"{sorted(body_spec['content'])}")
            if body is None:
                if body_spec.get("required"):
                    problems.append("the operation requires a request body")
            elif isinstance(body, str):
                problems.append("the request body is not JSON")
            else:
                validator = self._body_validator(op)
                for err in sorted(validator.iter_errors(body), key=lambda e: list(e.path))[:5]:
                    where = "/" + "/".join(str(x) for x in err.absolute_path)
                    problems.append(f"body {where}: {err.message[:200]}")
        return [f"{op.op_id}: {p}" for p in problems]


def _check_query_value(name: str, value: str, schema: dict[str, Any]) -> list[str]:
    t = schema.get("type")
    if t == "array":
        enum = (schema.get("items") or {}).get("enum")
        if enum:
            bad = [v for v in value.split(",") if v not in enum]
            if bad:
                return [f"query '{name}': {bad} not in {enum}"]
        return []
    if t == "integer":
        try:
            n = int(value)
        except ValueError:
            return [f"query '{name}': '{value}' is not an integer"]
        if "maximum" in schema and n > schema["maximum"]:
            return [f"query '{name}': {n} > maximum {schema['maximum']}"]
        if "minimum" in schema and n < schema["minimum"]:
            return [f"query '{name}': {n} < minimum {schema['minimum']}"]
        return []
    if "enum" in schema and value not in schema["enum"]:
        return [f"query '{name}': '{value}' not in {schema['enum']}"]
    return []


class ContractRecorder:
    """Listens to every emulator request; keeps the violations (with the test that caused them)."""

    def __init__(self) -> None:
        self.violations: list[str] = []
        self.checked = 0
        self.exempt = 0
        self.current_test = "(outside a test)"
        self.contract: Contract | None = None
        self.folder: Path | None = None
        self._lock = threading.Lock()

    def install(self) -> None:
        from klaviyo_emulator import request_listeners

        self.folder = openapi_dir()
        if self.folder is None:
            return
        self.contract = Contract(self.folder)
        if self.listen not in request_listeners:
            request_listeners.append(self.listen)

    def uninstall(self) -> None:
        from klaviyo_emulator import request_listeners

        if self.listen in request_listeners:
            request_listeners.remove(self.listen)

    def listen(self, rec: dict[str, Any]) -> None:
        if self.contract is None:
            return
        problems = self.contract.check_response(rec)  # the emulator's answer, always
        if rec["exempt"]:
            with self._lock:
                self.exempt += 1
                self.violations += [f"{self.current_test}: {rec['method']} {rec['path']}: {p}"
                                    for p in problems]
            return
        problems += self.contract.check(rec)
        with self._lock:
            self.checked += 1
            for p in problems:
                self.violations.append(f"{self.current_test}: {rec['method']} {rec['path']}: {p}")

    def report(self, reporter: Any) -> None:
        if self.contract is None:
            reporter.write_line("Klaviyo contract check: skipped (no ../shared/klaviyo-openapi; "
                                "set KLAVIYO_OPENAPI_DIR)")
            return
        if not self.violations:
            reporter.write_line(f"Klaviyo contract check: {self.checked} emulator requests "
                                f"conform ({self.exempt} exempt)")
            return
        reporter.section("Klaviyo contract violations", sep="=", red=True, bold=True)
        for v in self.violations[:200]:
            reporter.write_line(v)
        if len(self.violations) > 200:
            reporter.write_line(f"… and {len(self.violations) - 200} more")
        reporter.write_line(f"{len(self.violations)} violation(s) in {self.checked} requests: "
                            "the run fails.", red=True)
