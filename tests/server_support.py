"""Real servers for tests and CI scripts: `termsvc serve` (or uvicorn) in a subprocess on a free port,
ready when /readyz says so, stopped afterwards."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(base: str, process: subprocess.Popen[bytes], seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode} before it was ready")
        try:
            with urllib.request.urlopen(base + "/readyz", timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"the server at {base} was not ready within {seconds:.0f} s")


def server_env(database_url: str, **extra: str) -> dict[str, str]:
    return {**os.environ, "TERMSVC_DATABASE_URL": database_url, "PYTHONPATH": str(REPO),
            "TERMSVC_ACCESS_LOG": "false", **extra}


@contextmanager
def serving(database_url: str, *, via_cli: bool = False, **env: str) -> Iterator[str]:
    """The base URL (http://127.0.0.1:PORT) of a server over `database_url` until the block ends."""
    port = free_port()
    command = ([sys.executable, "-m", "termsvc.cli.main", "serve", "--port", str(port)] if via_cli else
               [sys.executable, "-m", "uvicorn", "termsvc.api.asgi:app", "--host", "127.0.0.1", "--port", str(port),
                "--log-level", "warning"])
    process = subprocess.Popen(command, env=server_env(database_url, **env), cwd=REPO,
                               stdout=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base, process)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
