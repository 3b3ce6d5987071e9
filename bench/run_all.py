"""Run every benchmark in turn (`make bench`); each prints its own figures and ratios.

Benchmarks are separate processes so one's threads and caches never colour another's.
A benchmark that cannot run here (no dataset, say) says why and the others go on.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCHMARKS = (
    "bench_model.py",
    "bench_app.py",
    "bench_browser_path.py",
    "bench_pipeline.py",
)


def main() -> int:
    here = Path(__file__).resolve().parent
    failed = []
    for name in BENCHMARKS:
        print(f"\n=== {name}", flush=True)
        result = subprocess.run([sys.executable, str(here / name)], check=False)
        if result.returncode != 0:
            failed.append(name)
    if failed:
        print(f"\nfailed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
