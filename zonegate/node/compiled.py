"""Which node modules run compiled (mypyc C extensions) and whether those are current.

``scripts/compile_hot_path.py`` compiles :data:`HOT_MODULES` into extension
modules next to their sources; CPython then imports the extension in place of
the ``.py`` file. An extension older than the sources it was built from would
run old code, so the test suite refuses to start with one (``make compile``
rebuilds) and the node says at start which path it runs.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

PACKAGE_ROOT = Path(__file__).resolve().parent.parent  # the zonegate package directory

#: The request path of the node (and the GLB, which shares the exchange code),
#: compiled together into one shared library, ``zonegate.node.hotpath__mypyc``.
HOT_MODULES = (
    "zonegate.node.http",
    "zonegate.node.headers",
    "zonegate.node.context",
    "zonegate.node.random_ids",
    "zonegate.node.server",
    "zonegate.node.router",
    "zonegate.node.fastpath",
    "zonegate.node.proxy",
    "zonegate.node.exchange",
    "zonegate.node.body",
    "zonegate.node.retry_policy",
    "zonegate.node.upstream.connection",
    "zonegate.node.upstream.pool",
    "zonegate.node.upstream.host",
    "zonegate.node.upstream.cluster",
    "zonegate.node.upstream.balancer",
    "zonegate.node.upstream.zone_aware",
    "zonegate.node.upstream.outlier",
    "zonegate.node.upstream.breaker",
    "zonegate.node.upstream.limits",
    "zonegate.node.filters.base",
    "zonegate.node.filters.request_id",
    "zonegate.node.filters.auth_common",
    "zonegate.node.filters.auth_key",
    "zonegate.node.filters.authz",
    "zonegate.node.filters.ratelimit",
    "zonegate.node.filters.transform",
    "zonegate.node.filters.cors",
    "zonegate.node.policy.api_keys",
    "zonegate.node.policy.identity",
    "zonegate.node.policy.keys",
    "zonegate.node.policy.lru",
    "zonegate.node.policy.token_bucket",
    "zonegate.node.policy.sliding_window",
    "zonegate.node.policy.templates",
    "zonegate.node.policy.client_ip",
    "zonegate.node.policy.decision",
    "zonegate.node.ops.observer",
    "zonegate.node.ops.metrics",
    "zonegate.node.ops.cells",
    "zonegate.node.ops.cluster_events",
    "zonegate.node.ops.tracing",
    "zonegate.node.ops.traceparent",
    "zonegate.node.ops.access_log",
)
GROUP = "zonegate.node.hotpath"


def source_path(module: str) -> Path:
    return PACKAGE_ROOT.parent / (module.replace(".", "/") + ".py")


def compiled_modules() -> list[str]:
    """The hot modules that this interpreter loads as extension modules."""
    out = []
    for name in HOT_MODULES:
        module = sys.modules.get(name) or importlib.import_module(name)
        if not (module.__file__ or "").endswith(".py"):
            out.append(name)
    return out


def _shared_library(package_root: Path) -> Path | None:
    found = sorted(package_root.glob("node/hotpath__mypyc*.so"))
    return found[0] if found else None


def stale_sources(package_root: Path = PACKAGE_ROOT) -> list[str]:
    """Source files (of the whole package) changed after the compiled hot path was built.

    Compiled code also bakes in the types of what it imports (config models,
    other modules), so any newer ``.py`` under ``zonegate/`` makes the build stale.
    Empty when nothing is compiled.
    """
    library = _shared_library(package_root)
    if library is None:
        return []
    built = library.stat().st_mtime
    return sorted(
        str(p.relative_to(package_root.parent))
        for p in package_root.rglob("*.py")
        if p.stat().st_mtime > built
    )


def describe() -> tuple[bool, str]:
    """(all is as it should be, one line for the node's start-up log)."""
    compiled = compiled_modules()
    if not compiled:
        return False, "interpreted (no compiled modules; `make compile` builds them)"
    stale = stale_sources()
    if stale:
        return False, (
            f"compiled, but OLDER than {len(stale)} source file(s) "
            f"(e.g. {stale[0]}): run `make compile`"
        )
    return True, f"compiled with mypyc ({len(compiled)} of {len(HOT_MODULES)} modules)"
