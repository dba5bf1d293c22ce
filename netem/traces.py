"""Trace names: a path, a file in the shared traces folder, or a built-in generated trace.

Lookup order for ``resolve_trace(name)``:

1. an existing file path (always works);
2. a built-in name: ``cellular`` (the demo trace: seeded synthetic cellular, 120 s, about
   1–6 Mbit/s with dips and short outages), ``const-<rate>`` (``const-1mbps``,
   ``const-500kbps``, ``const-2.5mbps``, ``const-800000bps``; 60 s period),
   ``rfc8867-steps`` (RFC 8867 §5.1), ``outage-<N>s`` (2 Mbit/s for 120 s with one N-second
   outage starting at 30 s; ``outage-5s``, ``outage-10s``, ``outage-35s`` are listed);
3. a file in the shared traces folder, with or without its extension (``12mbps`` →
   ``12mbps.trace``; a pair name such as ``ATT-LTE-driving`` → its ``.down`` file; use
   :func:`resolve_trace_pair` for both directions).

Which file of a pair carries media and which feedback is one rule, :func:`media_and_feedback`,
used by the real calls (``experiments.link_spec``) and the simulator (:func:`trace_directions`)
alike: a pair's ``.down`` file (network to phone) carries media unless the name picks ``.up``.

The shared folder is ``$RTVC_TRACES_DIR`` if set, else ``<repo>/../shared/traces``.
"""

from __future__ import annotations

import os
import re
from functools import lru_cache
from pathlib import Path

from netem import generate
from netem.trace import Trace, TraceError, load_trace

TRACES_DIR_ENV = "RTVC_TRACES_DIR"
TRACE_EXTENSIONS = (".trace", ".down", ".up")

CELLULAR_SEED = 2  # fixed: "cellular" is the same trace on every machine
CELLULAR_DURATION_S = 120.0
CELLULAR_MEAN_BPS = 3_000_000.0
CONST_DURATION_S = 60.0
OUTAGE_RATE_BPS = 2_000_000.0
OUTAGE_TRACE_DURATION_S = 120.0
OUTAGE_AT_S = 30.0
LISTED_OUTAGES_S = (5, 10, 35)

_CONST = re.compile(r"const-(\d+(?:\.\d+)?)(bps|kbps|mbps)", re.IGNORECASE)
_OUTAGE = re.compile(r"outage-(\d+(?:\.\d+)?)s", re.IGNORECASE)
_UNIT_BPS = {"bps": 1.0, "kbps": 1e3, "mbps": 1e6}


def traces_dir() -> Path:
    """The shared traces folder (it may not exist on every machine)."""
    override = os.environ.get(TRACES_DIR_ENV)
    if override:
        return Path(override)
    return Path(__file__).resolve().parents[2] / "shared" / "traces"


def builtin_names() -> list[str]:
    return [
        "cellular",
        "const-500kbps",
        "const-1mbps",
        "const-2mbps",
        "const-5mbps",
        "rfc8867-steps",
        *(f"outage-{s}s" for s in LISTED_OUTAGES_S),
    ]


@lru_cache(maxsize=32)
def _builtin(name: str) -> Trace | None:
    key = name.lower()
    if key == "cellular":
        return generate.cellular(
            CELLULAR_SEED, CELLULAR_DURATION_S, CELLULAR_MEAN_BPS, name="cellular"
        )
    if key == "rfc8867-steps":
        return generate.rfc8867_steps()
    match = _CONST.fullmatch(key)
    if match:
        rate_bps = float(match.group(1)) * _UNIT_BPS[match.group(2)]
        if rate_bps <= 0:
            raise TraceError(f"{name}: a constant rate must be positive, e.g. const-1mbps")
        return generate.constant(rate_bps, CONST_DURATION_S, name=key)
    match = _OUTAGE.fullmatch(key)
    if match:
        outage_s = float(match.group(1))
        longest_s = OUTAGE_TRACE_DURATION_S - OUTAGE_AT_S
        if not 0 < outage_s < longest_s:
            raise TraceError(f"{name}: outage length must be between 0 and {longest_s:g} s")
        return generate.outage(
            OUTAGE_RATE_BPS, OUTAGE_TRACE_DURATION_S, OUTAGE_AT_S, outage_s, name=key
        )
    return None


def _shared_files() -> list[Path]:
    folder = traces_dir()
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix in TRACE_EXTENSIONS)


def _find_shared(name: str) -> Path | None:
    folder = traces_dir()
    if not folder.is_dir() or "/" in name or name.startswith("."):
        return None
    for candidate in (name, *(name + ext for ext in (".trace", ".down"))):
        path = folder / candidate
        if path.is_file():
            return path
    return None


def available_traces() -> list[str]:
    """Names :func:`resolve_trace` accepts (besides paths and other const-/outage- values)."""
    files = _shared_files()
    names = {p.name for p in files}
    pairs = {p.stem for p in files if p.suffix == ".down" and (p.with_suffix(".up")).is_file()}
    return [*builtin_names(), *sorted(pairs), *sorted(names)]


def resolve_trace(name_or_path: str | Path) -> Trace:
    """A :class:`Trace` for a path, a built-in name or a shared trace name (see module doc)."""
    text = str(name_or_path).strip()
    if not text:
        raise TraceError("empty trace name; give a path or one of: " + _listing())
    path = Path(text).expanduser()
    if path.is_file():
        return load_trace(path)
    builtin = _builtin(text)
    if builtin is not None:
        return builtin
    shared = _find_shared(text)
    if shared is not None:
        return load_trace(shared)
    if path.suffix or "/" in text:
        raise TraceError(
            f"{text}: no such trace file; give an existing path or one of: " + _listing()
        )
    raise TraceError(f"unknown trace {text!r}; give a path or one of: " + _listing())


def resolve_trace_pair(name_or_path: str | Path) -> tuple[Trace, Trace]:
    """(up, down) traces: a ``.up``/``.down`` pair by its base name, else one trace both ways."""
    text = str(name_or_path).strip()
    candidates = [Path(text).expanduser()]
    if "/" not in text:
        candidates.append(traces_dir() / text)
    for base in candidates:
        up, down = base.with_name(base.name + ".up"), base.with_name(base.name + ".down")
        if up.is_file() and down.is_file():
            return load_trace(up), load_trace(down)
    trace = resolve_trace(name_or_path)
    return trace, trace


def _pair_files(base: str) -> bool:
    """Does ``base`` (a path or a shared name, without extension) have both pair files?"""
    candidates = [Path(base).expanduser()]
    if "/" not in base:
        candidates.append(traces_dir() / base)
    return any(
        c.with_name(c.name + ".up").is_file() and c.with_name(c.name + ".down").is_file()
        for c in candidates if c.name
    )


def media_and_feedback(name_or_path: str | Path) -> tuple[str, str]:
    """(media, feedback) trace names for an experiment's trace, each one :func:`resolve_trace`
    accepts: a pair name ``X`` gives ``(X.down, X.up)``; ``X.down`` gives ``(X.down, X.up)``
    and ``X.up`` gives ``(X.up, X.down)`` when X is a pair; anything else carries both.
    Files are only looked for, not read: a bad name fails later, in :func:`resolve_trace`."""
    text = str(name_or_path).strip()
    if text and _pair_files(text):
        return f"{text}.down", f"{text}.up"
    for media_ext, feedback_ext in ((".down", ".up"), (".up", ".down")):
        base = text.removesuffix(media_ext)
        if base != text and _pair_files(base):
            return text, base + feedback_ext
    return text, text


def trace_directions(name_or_path: str | Path) -> tuple[Trace, Trace]:
    """(media, feedback) traces by :func:`media_and_feedback`; one object when they are one file."""
    media, feedback = media_and_feedback(name_or_path)
    media_trace = resolve_trace(media)
    return media_trace, media_trace if feedback == media else resolve_trace(feedback)


def _listing() -> str:
    names = available_traces()
    return ", ".join(names) + " (also const-<N>kbps|mbps, outage-<N>s)"
