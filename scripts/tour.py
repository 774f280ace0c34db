"""A short tour of the CLI on a throw-away embedded database."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

BIN = Path(sys.executable).parent / "tocsin"


def tocsin(*args: str, env: dict[str, str]) -> None:
    print(f"\n$ tocsin {' '.join(repr(a) if ' ' in a else a for a in args)}", flush=True)
    subprocess.run([str(BIN), *args], env=env, check=True)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, TOCSIN_DATABASE_URL=f"sqlite:///{tmp}/tour.db")
        tocsin("metric", "create", "Open Issues", "--source", "push", env=env)
        tocsin(
            "alert",
            "create",
            "--metric",
            "Open Issues",
            "--name",
            "Notify if Issues > 5",
            "--when",
            "> 5",
            "--action",
            "log",
            env=env,
        )
        tocsin("alert", "list", env=env)


if __name__ == "__main__":
    main()
