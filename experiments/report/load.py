"""Reading a run folder: its settings and its calls, each with a typed summary.

A run folder (``python -m experiments run --out DIR``) holds ``settings.json`` and one folder
per call (``result.json``, ``receiver.jsonl``, ``sender.jsonl``, ``netem.jsonl``); a sweep over
several traces holds one such folder per trace instead. Nothing here needs the calls'
processes, and an unreadable or missing file turns into a ``failed`` call with its reason,
never an exception.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from experiments.jsonl import read_jsonl
from peer.metrics import CallSummary

SETTINGS_FILE = "settings.json"
RESULT_FILE = "result.json"
SPEC_FILE = "spec.json"
RECEIVER_FILE = "receiver.jsonl"
NETEM_FILE = "netem.jsonl"
CALL_FILES = (RESULT_FILE, SPEC_FILE, RECEIVER_FILE)  # any of these makes a call folder
STATUSES = ("ok", "failed", "skipped")
_REPEAT_LABEL = re.compile(r"(.+)-r(\d+)")


@dataclass(frozen=True)
class CallRun:
    """One call as its folder recorded it. `summary` is set when status is ok."""

    folder: Path
    label: str
    controller: str
    status: str  # "ok" | "failed" | "skipped"
    reason: str
    summary: CallSummary | None


def read_json(path: Path) -> tuple[Any, str]:
    """(value, "") or (None, why it could not be read)."""
    try:
        return json.loads(path.read_text(encoding="utf-8")), ""
    except FileNotFoundError:
        return None, f"{path.name} is missing"
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        return None, f"{path.name} is unreadable ({type(exc).__name__}: {exc})"


def load_settings(folder: Path) -> dict[str, Any]:
    value, _ = read_json(folder / SETTINGS_FILE)
    return value if isinstance(value, dict) else {}


def trace_name(folder: Path) -> str:
    """The trace a trace folder ran on (settings.json), else the folder's name."""
    return str(load_settings(folder).get("trace") or folder.name)


def listed_controllers(settings: Mapping[str, Any]) -> list[str]:
    listed = settings.get("controllers")
    return [str(c) for c in listed] if isinstance(listed, list) else []


def _receiver_summary(folder: Path) -> dict[str, Any] | None:
    summaries = [r for r in read_jsonl(folder / RECEIVER_FILE) if r.get("type") == "summary"]
    return summaries[-1] if summaries else None


def load_call(folder: Path) -> CallRun:
    """Read one call folder: result.json first (the receiver's keys fill its gaps), else the
    receiver's own summary line."""
    result, problem = read_json(folder / RESULT_FILE)
    spec, _ = read_json(folder / SPEC_FILE)
    receiver = _receiver_summary(folder)
    sources = [d for d in (result, spec, receiver) if isinstance(d, dict)]
    label = next((str(d["label"]) for d in sources if d.get("label")), folder.name)
    match = _REPEAT_LABEL.fullmatch(label)
    guessed = match.group(1) if match else label
    controller = next((str(d["controller"]) for d in sources if d.get("controller")), guessed)
    if isinstance(result, dict):
        status = str(result.get("status") or "failed")
        reason = str(result.get("reason") or "")
        if status not in STATUSES:
            status, reason = "failed", f"result.json has an unknown status {status!r}"
        given = result.get("summary")
        values = dict(given) if isinstance(given, dict) else {}
        for key, value in (receiver or {}).items():
            if values.get(key) is None:
                values[key] = value
    elif receiver is not None:
        status = "ok" if receiver.get("ok") is True else "failed"
        reason = f"{problem}; receiver: {receiver.get('ended') or 'no end reason'}"
        values = receiver
    else:
        status, values = "failed", {}
        reason = f"{problem} and the receiver wrote no summary: the call did not finish"
    if status == "ok":
        return CallRun(folder, label, controller, status, reason, CallSummary.from_json(values))
    return CallRun(folder, label, controller, status, reason or "no reason given", None)


def trace_folders(run_dir: Path) -> list[Path]:
    """The trace folders of a sweep (each with its settings.json); [] for a plain run."""
    if not run_dir.is_dir():
        return []
    return sorted(p for p in run_dir.iterdir() if p.is_dir() and (p / SETTINGS_FILE).is_file())


def find_calls(run_dir: Path) -> list[CallRun]:
    """The calls of one trace folder, ordered as settings.json lists the controllers."""
    if not run_dir.is_dir():
        return []
    folders = sorted(
        p for p in run_dir.iterdir() if p.is_dir() and any((p / f).exists() for f in CALL_FILES)
    )
    calls = [load_call(p) for p in folders]
    order = {c: i for i, c in enumerate(listed_controllers(load_settings(run_dir)))}
    return sorted(calls, key=lambda c: (order.get(c.controller, len(order)), _repeat_key(c)))


def _repeat_key(call: CallRun) -> tuple[int, str]:
    match = _REPEAT_LABEL.fullmatch(call.label)
    return (int(match.group(2)) if match else 0, call.label)
