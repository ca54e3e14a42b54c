"""Where a drill runs: entry points, admin URLs, etcd, the fault proxy API, the SLO engine."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from zonegate.chaos.control import DrillControl, LocalCluster, ProcessView
from zonegate.chaos.errors import TargetError

#: Written by ``zonegate up`` when it runs fault proxies (see :mod:`zonegate.chaos.links`).
FAULTPROXY_STATE = "faultproxy.json"


@dataclass
class DrillEnvironment:
    glb_urls: list[str]
    glb_admin_urls: list[str] = field(default_factory=list)
    etcd_urls: dict[str, str] = field(default_factory=dict)
    """etcd member name -> client URL (``http://host:port``)"""
    cluster: str = "zonegate"
    toxiproxy_url: str | None = None
    slo_url: str | None = None
    control: DrillControl | None = None

    @property
    def etcd_endpoints(self) -> list[str]:
        return [url.removeprefix("http://") for url in self.etcd_urls.values()]

    def values(self) -> dict[str, str]:
        """The built-in ``${name}`` values of experiments."""
        out: dict[str, str] = {}
        if self.glb_urls:
            out["glb"] = self.glb_urls[0].rstrip("/")
        if self.glb_admin_urls:
            out["glb_admin"] = self.glb_admin_urls[0].rstrip("/")
        if self.slo_url:
            out["slo"] = self.slo_url.rstrip("/")
        if self.toxiproxy_url:
            out["toxiproxy"] = self.toxiproxy_url.rstrip("/")
        return out


def environment_from_views(
    views: list[ProcessView],
    *,
    cluster: str,
    entry_points: list[str],
    control: DrillControl | None,
    toxiproxy_url: str | None = None,
    slo_url: str | None = None,
) -> DrillEnvironment:
    glbs = sorted((v for v in views if v.kind == "glb"), key=lambda v: v.name)
    dashboards = [v.url for v in views if v.kind == "dashboard"]
    if slo_url is None and dashboards:
        slo_url = dashboards[0]  # the SLO engine zonegate up runs
    return DrillEnvironment(
        glb_urls=entry_points or [v.url for v in glbs],
        glb_admin_urls=[v.admin for v in glbs if v.admin],
        etcd_urls={v.name: v.url for v in views if v.kind == "etcd"},
        cluster=cluster,
        toxiproxy_url=toxiproxy_url,
        slo_url=slo_url,
        control=control,
    )


def read_faultproxy_url(run_dir: Path) -> str | None:
    try:
        data = json.loads((run_dir / FAULTPROXY_STATE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    url = data.get("api") if isinstance(data, dict) else None
    return str(url) if url else None


async def local_cluster_environment(
    run_dir: Path | None = None,
    *,
    toxiproxy_url: str | None = None,
    slo_url: str | None = None,
) -> DrillEnvironment:
    """The environment of the cluster ``zonegate up`` runs from ``run_dir``."""
    control = LocalCluster(run_dir)
    views = await control.processes()
    state = control.control.state()
    if not state.entry_points:
        raise TargetError("the cluster has no entry point (no GLB and no node is running)")
    return environment_from_views(
        views,
        cluster=state.cluster,
        entry_points=list(state.entry_points),
        control=control,
        toxiproxy_url=toxiproxy_url or read_faultproxy_url(Path(state.run_dir)),
        slo_url=slo_url,
    )
