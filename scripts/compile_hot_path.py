"""Compile the node's request path with mypyc (C extensions next to the sources).

The hot path is plain typed Python; mypyc turns the modules listed in
:data:`zonegate.node.compiled.HOT_MODULES` into C extension modules that
CPython imports in place of the ``.py`` files. The same sources run either
way and the same tests cover them. ``make`` runs this whenever a source file
changes (``make compile``); ``make clean`` removes the build. Without a C
compiler (or Python headers) the node runs interpreted and this script says so.

    .venv/bin/python scripts/compile_hot_path.py [--list]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from zonegate.node.compiled import GROUP, HOT_MODULES, source_path  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--list", action="store_true", help="print the compiled sources and exit")
    args = parser.parse_args()
    sources = [str(source_path(m).relative_to(ROOT)) for m in HOT_MODULES]
    if args.list:
        print(" ".join(sources))
        return 0
    if shutil.which(os.environ.get("CC", "cc")) is None:
        print("compile_hot_path: no C compiler (cc): the node runs interpreted", file=sys.stderr)
        return 0
    os.chdir(ROOT)
    for old in (ROOT / "zonegate").rglob("*.so"):
        old.unlink()  # a module dropped from the list must not keep running compiled
    from mypyc.build import mypycify
    from setuptools import setup  # type: ignore[import-untyped]

    try:
        setup(
            name="zonegate-hotpath",
            ext_modules=mypycify(sources, group_name=GROUP, target_dir="build/mypyc"),
            script_args=["-q", "build_ext", "--inplace", "--build-temp", "build/mypyc-temp"],
        )
    except (Exception, SystemExit) as exc:  # setuptools reports a failed compiler with SystemExit
        for partial in (ROOT / "zonegate").rglob("*.so"):
            partial.unlink()
        print(
            f"compile_hot_path: compiling failed ({exc}); the node runs interpreted",
            file=sys.stderr,
        )
        return 0
    for built in (ROOT / "zonegate").rglob("*.so"):
        os.utime(built)  # setuptools keeps the time of an unchanged build; staleness needs now
    print(f"compile_hot_path: {len(sources)} modules compiled", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
