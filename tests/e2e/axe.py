"""axe-core for the accessibility tests: the pinned npm package, installed into the
git-ignored build/axe/ (by `make axe`, or by the tests' fixture when missing), and
a helper that runs it inside a Playwright page.

`python -m tests.e2e.axe` installs it; the version is pinned here, and only here.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

__all__ = ["AXE_JS", "AXE_VERSION", "ensure_axe", "run_axe", "summary"]

AXE_VERSION = "4.14.1"
PREFIX = Path(__file__).resolve().parents[2] / "build" / "axe"
AXE_JS = PREFIX / "node_modules" / "axe-core" / "axe.min.js"
# WCAG 2.0/2.1/2.2 A and AA rules, as the issue asks.
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]


def ensure_axe() -> Path | None:
    """axe.min.js of the pinned version, installed with npm when missing; None when npm
    is not there."""
    package = PREFIX / "node_modules" / "axe-core" / "package.json"
    if package.exists() and json.loads(package.read_text())["version"] == AXE_VERSION:
        return AXE_JS
    npm = shutil.which("npm")
    if npm is None:
        return None
    PREFIX.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            npm,
            "install",
            "--prefix",
            str(PREFIX),
            "--no-audit",
            "--no-fund",
            "--no-save",
            f"axe-core@{AXE_VERSION}",
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    return AXE_JS


async def run_axe(page: Any) -> list[dict[str, Any]]:
    """The axe violations of `page` as it is now (rules of `TAGS`).

    axe must be in the page already: add it with `context.add_init_script(path=AXE_JS)`,
    which is not subject to the pages' Content-Security-Policy (no inline scripts).
    """
    result = await page.evaluate(
        "async (tags) => (await axe.run(document, {runOnly: {type: 'tag', values: tags},"
        " resultTypes: ['violations']})).violations",
        TAGS,
    )
    violations: list[dict[str, Any]] = result
    return violations


def summary(violations: list[dict[str, Any]]) -> list[str]:
    """One line per violation: impact, rule, and the first offending element."""
    return [
        f"{v['impact']}: {v['id']} ({len(v['nodes'])}x) e.g. {v['nodes'][0]['target']}"
        f" {v['nodes'][0].get('failureSummary', '')[:200]}"
        for v in violations
    ]


if __name__ == "__main__":
    print(ensure_axe())  # noqa: T201
