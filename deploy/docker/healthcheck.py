"""Container health check: GET an admin URL, exit 0 on a 2xx answer, 1 otherwise.

The image has no curl; this is the Dockerfile's HEALTHCHECK (stdlib only, so it runs
with the image's Python and nothing else). Environment:

- ``ZONEGATE_HEALTHCHECK_URL``: what to GET (default ``http://127.0.0.1:9901/healthz``,
  the node's admin listener; the GLB's is on 9000).
- ``ZONEGATE_ADMIN_TOKEN_FILE`` or ``ZONEGATE_ADMIN_TOKEN``: bearer token sent when set
  (a node's admin listener off loopback requires one).
"""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request

DEFAULT_URL = "http://127.0.0.1:9901/healthz"
TIMEOUT_S = 2.0


def admin_token() -> str | None:
    path = os.environ.get("ZONEGATE_ADMIN_TOKEN_FILE")
    if path:
        try:
            with open(path, encoding="utf-8") as handle:
                return handle.read().strip() or None
        except OSError:
            return None
    return os.environ.get("ZONEGATE_ADMIN_TOKEN") or None


def check(url: str, token: str | None) -> tuple[bool, str]:
    request = urllib.request.Request(url, method="GET")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
            status = int(response.status)
    except urllib.error.HTTPError as exc:
        return False, f"{url}: HTTP {exc.code}"
    except (urllib.error.URLError, OSError) as exc:
        return False, f"{url}: {getattr(exc, 'reason', exc)}"
    return 200 <= status < 300, f"{url}: HTTP {status}"


def main() -> int:
    url = os.environ.get("ZONEGATE_HEALTHCHECK_URL", DEFAULT_URL)
    healthy, detail = check(url, admin_token())
    print(detail)
    return 0 if healthy else 1


if __name__ == "__main__":
    sys.exit(main())
