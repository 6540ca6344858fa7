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
NOT_BUILT = ("error", "skipped", "fail")  # a model so reported was not (re)built
FAILED = ("error", "fail")  # what made the run fail
SHOWN = 5  # failed nodes named in a warning


def _unquoted_last(relation: str) -> str:
    """The last part of a relation name (``"db"."schema"."name"`` → ``name``), lower-cased."""
    return relation.rsplit(".", 1)[-1].strip().strip('"`').lower()


def _name(result: dict[str, Any]) -> str:
    """``model seg_vip``: a node's resource type and name, from its unique id."""
    parts = str(result.get("unique_id", "")).split(".")
    return f"{parts[0]} {parts[-1]}" if len(parts) > 1 else str(result.get("unique_id"))


def read(target_path: str | Path) -> dict[str, Any] | None:
    """The last dbt command's results in ``target_path``; None when there are none (never
    built here) or the file cannot be read as dbt's."""
    try:
        doc = json.loads((Path(target_path) / RUN_RESULTS).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(doc, dict) or not isinstance(doc.get("results"), list):
        return None
    return doc


def stale_warnings(target_path: str | Path, campaigns: list[Campaign]) -> list[str]:
    """One warning per campaign of ``campaigns`` whose model the last dbt command in
    ``target_path`` did not build (``NOT_BUILT``), naming the nodes that failed in it and the
    dbt invocation that built the registry the campaign was read from (an earlier one: the
    registry depends on every campaign model, so the failed build did not rebuild it)."""
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
    shown = ", ".join(f"{_name(r)} ({r.get('status')})" for r in failed[:SHOWN])
    if len(failed) > SHOWN:
        shown += f" and {len(failed) - SHOWN} more"
    run = (f"the last dbt command (`dbt {command or '…'}`, invocation {invocation}, "
           f"{meta.get('generated_at') or 'time unknown'}; "
           f"{Path(target_path) / RUN_RESULTS})")
    why = f"; failed in that run: {shown}" if shown else ""
    models: dict[str, dict[str, Any]] = {}
    for r in results:
        if str(r.get("unique_id", "")).startswith("model."):
            models[str(r.get("unique_id")).split(".")[-1].lower()] = r
            if r.get("relation_name"):
                models[str(r["relation_name"])] = r
    out: list[str] = []
    for c in campaigns:
        r = models.get(c.audience_relation) or models.get(_unquoted_last(c.audience_relation))
        if r is None or r.get("status") not in NOT_BUILT:
            continue
        out.append(
            f"campaign {c.campaign_id!r}: {run} did not build its audience "
            f"{_name(r).split(' ', 1)[-1]} ({r.get('status')}){why}. The push sends the "
            f"audience an earlier build left in {c.audience_relation} (registry of dbt "
            f"invocation {c.dbt_invocation_id or 'unknown'}); fix the failure and run "
            f"`dbt build` again for the current one")
    return out
