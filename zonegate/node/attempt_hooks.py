"""Hooks the proxy calls around each upstream attempt (tracing, upstream metrics).

The base class does nothing. The proxy calls :meth:`AttemptHooks.upstream_headers`
once per proxied request (its headers go into the upstream request head that
every attempt reuses) and, per attempt, :meth:`attempt_started` (headers
returned here replace those for this attempt only, which costs a rebuilt
request head: return None on the common path) and :meth:`attempt_finished`.
Hooks run on the hot path: keep them cheap and never raise.
"""

from __future__ import annotations

from zonegate.node.context import RequestContext
from zonegate.node.http import Headers, Request
from zonegate.node.upstream.host import Host


class AttemptHooks:
    """No-op hooks; subclasses override what they need."""

    def upstream_headers(self, ctx: RequestContext, req: Request) -> Headers | None:
        """Extra headers for every attempt of this request (e.g. a new ``traceparent``)."""
        return None

    def attempt_started(self, ctx: RequestContext, host: Host) -> Headers | None:
        """Headers for this attempt only, or None to send the request's usual head."""
        return None

    def attempt_finished(
        self, ctx: RequestContext, host: Host, status: int, error: Exception | None
    ) -> None:
        """The attempt got a response head (``status``) or failed locally (``error``).

        ``ctx.upstream_duration`` holds the attempt's time to the response head.
        """
        return None
