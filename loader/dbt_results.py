"""Warnings from the last dbt command's results: audiences a failed ``dbt build`` left stale.

dbt writes ``run_results.json`` into its target path after every command: one result per node
it ran, with a status (``success``, ``error``, ``skipped``, ``pass``, ``fail``, ``warn``). When
the last command failed, a campaign model it did not build (``error``, or ``skipped`` because a
segment upstream failed) still holds the audience of an earlier build, and ``loader push``
would send that one. Nothing stops the push (the earlier audience is consistent, and the
campaigns whose models were built are current): each such campaign gets a warning naming the
nodes that failed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from loader.warehouse import Campaign

RUN_RESULTS = "run_results.json"
MANIFEST = "manifest.json"
NOT_BUILT = ("error", "skipped", "fail")  # a model so reported was not (re)built
FAILED = ("error", "fail")  # what made the run fail
SHOWN = 5  # failed nodes named in a warning


def _unquoted_last(relation: str) -> str:
    """The last part of a relation name (``"db"."schema"."name"`` → ``name``), lower-cased."""
    return relation.rsplit(".", 1)[-1].strip().strip('"`').lower()


def _name(result: dict[str, Any]) -> str:
    """``model seg_vip``: a node's resource type and name, from its unique id
    (``<type>.<package>.<name>``, then a test's hash or a model's version)."""
    parts = str(result.get("unique_id", "")).split(".")
    return f"{parts[0]} {parts[2]}" if len(parts) > 2 else str(result.get("unique_id"))


def _artifact(path: Path, key: str, kind: type) -> dict[str, Any] | None:
    """A dbt artifact (JSON) whose ``key`` is a ``kind``; None when it is absent or not
    dbt's."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(doc, dict) or not isinstance(doc.get(key), kind):
        return None
    return doc


def read(target_path: str | Path) -> dict[str, Any] | None:
    """The last dbt command's results in ``target_path``; None when there are none (never
    built here) or the file cannot be read as dbt's."""
    return _artifact(Path(target_path) / RUN_RESULTS, "results", list)


def _parents(target_path: str | Path, invocation: str) -> dict[str, list[str]] | None:
    """The node graph (``parent_map``) of the same dbt invocation, from its
    ``manifest.json``; None when there is none of that invocation."""
    doc = _artifact(Path(target_path) / MANIFEST, "parent_map", dict)
    if doc is None:
        return None
    meta = doc.get("metadata") if isinstance(doc.get("metadata"), dict) else {}
    if str(meta.get("invocation_id")) != invocation:
        return None
    return doc["parent_map"]


def _upstream(parents: dict[str, list[str]], node: str) -> set[str]:
    """``node`` and every node it is built from."""
    seen = {node}
    todo = [node]
    while todo:
        for p in parents.get(todo.pop(), []):
            if p not in seen:
                seen.add(p)
                todo.append(p)
    return seen


def stale_warnings(target_path: str | Path, campaigns: list[Campaign]) -> list[str]:
    """One warning per campaign of ``campaigns`` that the last dbt command in
    ``target_path`` failed for: its model not built (``NOT_BUILT``), or built but a test of it
    failed (dbt then skips the registry, which depends on every campaign model). It names
    the nodes that failed (with the invocation's ``manifest.json``: those the campaign's model
    is built from and their tests, and the model's own tests; without it, every node that
    failed, and nothing for a model that was built) and the dbt invocation that built the
    registry the campaign was read from."""
    doc = read(target_path)
    if doc is None:
        return []
    results = [r for r in doc["results"] if isinstance(r, dict)]
    meta = doc.get("metadata") if isinstance(doc.get("metadata"), dict) else {}
    invocation = str(meta.get("invocation_id") or "?")
    command = (doc.get("args") or {}).get("which") if isinstance(doc.get("args"), dict) else None
    failed = [r for r in results if r.get("status") in FAILED]
    if not failed and not any(r.get("status") in NOT_BUILT for r in results):
        return []
    parents = _parents(target_path, invocation) if failed else None
    run = (f"the last dbt command (`dbt {command or '…'}`, invocation {invocation}, "
           f"{meta.get('generated_at') or 'time unknown'}; "
           f"{Path(target_path) / RUN_RESULTS})")
    models: dict[str, dict[str, Any]] = {}
    for r in results:
        if str(r.get("unique_id", "")).startswith("model."):
            models[_name(r).split(" ", 1)[-1].lower()] = r
            if r.get("relation_name"):
                models[str(r["relation_name"])] = r
    out: list[str] = []
    for c in campaigns:
        r = models.get(c.audience_relation) or models.get(_unquoted_last(c.audience_relation))
        if r is None:
            continue
        built = r.get("status") not in NOT_BUILT
        if parents is None:
            relevant = [] if built else failed
        else:
            upstream = _upstream(parents, str(r.get("unique_id")))
            # the nodes it is built from, and the tests of them or of itself
            relevant = [f for f in failed if str(f.get("unique_id")) in upstream
                        or (str(f.get("unique_id")).startswith("test.")
                            and set(parents.get(str(f.get("unique_id")), [])) & upstream)]
        if built and not relevant:
            continue
        shown = ", ".join(f"{_name(f)} ({f.get('status')})" for f in relevant[:SHOWN])
        if len(relevant) > SHOWN:
            shown += f" and {len(relevant) - SHOWN} more"
        model = _name(r).split(" ", 1)[-1]
        what = (f"built its audience {model} but failed: {shown}. The registry (campaigns' "
                f"lists, timing, attributes) was not rebuilt" if built else
                f"did not build its audience {model} ({r.get('status')})"
                + (f"; failed in that run: {shown}" if shown else "")
                + f". The push sends the audience an earlier build left in "
                f"{c.audience_relation}")
        out.append(f"campaign {c.campaign_id!r}: {run} {what} (registry of dbt invocation "
                   f"{c.dbt_invocation_id or 'unknown'}); fix the failure and run "
                   f"`dbt build` again")
    return out
