"""Copy a committed revision into a directory to benchmark it while others edit the checkout.

    python -m bench.snapshot /tmp/rete-snapshot [REV]      # REV defaults to HEAD
    cd /tmp/rete-snapshot && PYTHONPATH=_site .venv/bin/python -m bench.generate ...

The copy takes bench/ from the working tree (so that unfinished bench modules can be tried on
committed code), shares .venv, static/vendor and compiled translations, and `_site/` holds a
sitecustomize that hides the checkout's editable install (which would otherwise fill in
missing packages from the working tree).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

SITECUSTOMIZE = '''\
import sys

# Drop the editable-install finder of the shared checkout: only this copy's code is imported.
sys.meta_path[:] = [f for f in sys.meta_path if "__editable__" not in getattr(f, "__module__", "")
                    and "__editable__" not in type(f).__module__]
'''


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__)
        return 2
    dest = Path(argv[0]).resolve()
    rev = argv[1] if len(argv) > 1 else "HEAD"
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    archive = subprocess.run(["git", "archive", rev], cwd=REPO, capture_output=True,  # noqa: S607
                             check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)  # noqa: S607
    shutil.rmtree(dest / "bench", ignore_errors=True)
    shutil.copytree(REPO / "bench", dest / "bench",
                    ignore=shutil.ignore_patterns("results", "__pycache__"))
    (dest / ".venv").symlink_to(REPO / ".venv")
    (dest / "static").mkdir(exist_ok=True)
    if (REPO / "static" / "vendor").exists():
        (dest / "static" / "vendor").symlink_to(REPO / "static" / "vendor")
    for mo in (REPO / "portal" / "translations").glob("*/LC_MESSAGES/*.mo"):
        target = dest / mo.relative_to(REPO)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(mo, target)
    (dest / "_site").mkdir()
    (dest / "_site" / "sitecustomize.py").write_text(SITECUSTOMIZE, encoding="utf-8")
    print(f"{rev} copied to {dest}; run there with PYTHONPATH=_site")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
