"""Children of ``bench.chaos``: Tocsin processes and a throw-away PostgreSQL cluster.

Every child gets its own process group and is signalled by its own PID only; nothing is
ever looked up or killed by name.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import IO

TOCSIN = Path(sys.executable).with_name("tocsin")


class Child:
    """One ``tocsin`` process; its output goes to a log file under the run's temp dir."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], log_dir: Path) -> None:
        self.name = name
        self.args = args
        self.env = env
        self.log_dir = log_dir
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self._log: IO[bytes] | None = None

    def start(self) -> None:
        self.starts += 1
        if self._log is not None:
            self._log.close()
        self._log = open(self.log_dir / f"{self.name}.{self.starts}.log", "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [str(TOCSIN), *self.args],
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    @property
    def pid(self) -> int | None:
        return None if self.proc is None else self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL, by PID, and reap it."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def stop(self, grace: float = 20.0) -> int | None:
        """SIGTERM by PID, then SIGKILL after ``grace``; the exit status (None if it was
        never started)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(grace)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        if self._log is not None:
            self._log.close()
            self._log = None
        return self.proc.returncode


def wait_http_ok(url: str, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1) as resp:  # noqa: S310 - loopback
                if resp.status == 200:
                    return True
        except OSError:
            pass
        time.sleep(0.1)
    return False


def run_tocsin(args: list[str], env: dict[str, str], timeout: float = 120) -> None:
    done = subprocess.run(
        [str(TOCSIN), *args], env=env, capture_output=True, timeout=timeout, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"tocsin {' '.join(args)} failed: {done.stderr.decode()[-2000:]}")


class PgCluster:
    """initdb into ``root/data``, served on 127.0.0.1:``port`` with its unix socket in
    ``root``; as the ``postgres`` user when we are root (initdb refuses to run as root)."""

    def __init__(self, root: Path, port: int) -> None:
        found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
        if not found:
            raise RuntimeError("no PostgreSQL binaries under /usr/lib/postgresql/*/bin")
        self.bin = Path(found[-1]).parent
        self.root = root
        self.data = root / "data"
        self.port = port
        self.user: int | None = None
        self.group: int | None = None
        if os.geteuid() == 0:
            entry = pwd.getpwnam("postgres")
            self.user, self.group = entry.pw_uid, entry.pw_gid
            os.chown(root, entry.pw_uid, entry.pw_gid)
        self.restarts = 0

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, tool: str, *args: str, timeout: float = 120) -> None:
        done = subprocess.run(
            [str(self.bin / tool), *args],
            capture_output=True,
            timeout=timeout,
            check=False,
            user=self.user,
            group=self.group,
            cwd=self.root,
            start_new_session=True,
        )
        if done.returncode != 0:
            raise RuntimeError(f"{tool} {' '.join(args)} failed: {done.stderr.decode()[-2000:]}")

    def _pg_ctl(self, action: str, *extra: str) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1"
        self._run(
            "pg_ctl", action, "-D", str(self.data), "-l", str(self.root / "server.log"),
            "-o", options, "-w", "-t", "60", *extra,
        )  # fmt: skip

    def create(self) -> None:
        # Not --no-sync: a crash soon after would leave the server's shutdown waiting on
        # the write-back of the whole cluster (a minute on a slow disk, seen here).
        self._run(
            "initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8"
        )  # fmt: skip
        self._pg_ctl("start")

    def restart_immediate(self) -> None:
        """A crash as the server sees it: no checkpoint, WAL replayed on start."""
        self.restarts += 1
        self._pg_ctl("restart", "-m", "immediate")

    def remove(self, keep_log: Path | None = None) -> None:
        if keep_log is not None and (self.root / "server.log").exists():
            shutil.copy(self.root / "server.log", keep_log)
        if (self.data / "postmaster.pid").exists():
            try:
                self._run("pg_ctl", "stop", "-D", str(self.data), "-m", "fast", "-w")
            except (RuntimeError, subprocess.TimeoutExpired) as exc:
                print(f"  could not stop the cluster: {exc}", file=sys.stderr)
        shutil.rmtree(self.root, ignore_errors=True)
