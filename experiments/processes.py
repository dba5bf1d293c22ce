"""Starting the project's own programs as child processes, and stopping them cleanly.

Every tool prints one line on stderr once it is ready to serve (`signaling on ws://H:P/ws`,
...); `start_service` waits for that line and reads the address from it, so services can bind
port 0 and no two runs fight over a port.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parents[1]


class ServiceError(RuntimeError):
    pass


@dataclass
class Service:
    name: str
    process: subprocess.Popen[str]
    address: str
    output: list[str] = field(default_factory=list)  # its stderr lines, kept for diagnosis

    def stop(self, timeout_s: float = 5.0) -> int:
        return stop_process(self.process, timeout_s)


def python_command(module: str, *args: str) -> list[str]:
    return [sys.executable, "-m", module, *args]


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PROJECT_ROOT), env.get("PYTHONPATH")]))
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


def start_service(name: str, command: Sequence[str], ready: str, timeout_s: float = 20.0,
                  log_path: Path | None = None) -> Service:
    """Start `command`; return once a stderr line matches the regex `ready` (its first group
    is the address). The rest of its stderr is drained in the background (and kept in
    `log_path` when given) so the child never blocks on a full pipe."""
    process = subprocess.Popen(list(command), stderr=subprocess.PIPE, stdout=subprocess.DEVNULL,
                               stdin=subprocess.DEVNULL, text=True, env=child_env(),
                               cwd=PROJECT_ROOT)
    assert process.stderr is not None
    pattern = re.compile(ready)
    output: list[str] = []
    found: list[str] = []
    event = threading.Event()
    log_file = open(log_path, "w", encoding="utf-8") if log_path else None  # noqa: SIM115

    def drain() -> None:
        assert process.stderr is not None
        for line in process.stderr:
            output.append(line.rstrip())
            del output[:-200]
            if log_file:
                log_file.write(line)
                log_file.flush()
            match = pattern.search(line)
            if match and not event.is_set():
                found.append(match.group(1) if match.groups() else line.strip())
                event.set()
        if log_file:
            log_file.close()
        event.set()

    threading.Thread(target=drain, name=f"{name}-stderr", daemon=True).start()
    deadline = time.monotonic() + timeout_s
    while not event.wait(0.05):
        if time.monotonic() > deadline:
            stop_process(process)
            raise ServiceError(f"{name} did not become ready within {timeout_s:g} s")
    if not found:
        process.wait(timeout=5)
        tail = " | ".join(output[-3:])
        raise ServiceError(f"{name} exited with status {process.returncode}: {tail}")
    return Service(name, process, found[0], output)


def start_signaling(host: str = "127.0.0.1") -> Service:
    return start_service("signaling", python_command("signaling", "--host", host, "--port", "0"),
                         ready=r"signaling on (ws://[^\s,]+)")


def stop_process(process: subprocess.Popen[Any], timeout_s: float = 5.0) -> int:
    """SIGTERM (tools write their summaries on it), then SIGKILL if it does not end."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return process.returncode


@contextlib.contextmanager
def running(*services: Service) -> Iterator[None]:
    try:
        yield
    finally:
        for service in reversed(services):
            service.stop()
