"""The three demo services: routes and handlers of ``catalog``, ``orders`` and ``users``."""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import time
import uuid
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from zonegate.cluster.demo.store import JSON, Store

SESSION_COOKIE = "zg_session"
SESSION_TTL_S = 3600
IDEMPOTENCY_HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
ABANDONED_AFTER_S = 10.0
_USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,31}$")
_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")

_PRODUCTS = [
    ("espresso-machine", 249.0),
    ("grinder", 129.0),
    ("kettle", 39.5),
    ("french-press", 24.0),
    ("pour-over-set", 32.0),
    ("scale", 45.0),
    ("milk-frother", 59.0),
    ("tamper", 19.0),
    ("knock-box", 22.0),
    ("beans-ethiopia", 14.5),
    ("beans-colombia", 13.0),
    ("beans-kenya", 15.5),
]
ITEMS: list[JSON] = [
    {"id": i + 1, "sku": sku, "name": sku.replace("-", " ").title(), "price": price}
    for i, (sku, price) in enumerate(_PRODUCTS)
]
_ITEMS_BODY = json.dumps({"items": ITEMS}, sort_keys=True).encode()
ITEMS_ETAG = '"' + hashlib.sha256(_ITEMS_BODY).hexdigest()[:16] + '"'


def error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"error": code, "message": message}, status=status)


async def json_body(request: web.Request) -> Any:
    try:
        return await request.json()
    except ValueError:
        raise web.HTTPBadRequest(
            text=json.dumps({"error": "bad_json", "message": "the body is not valid JSON"}),
            content_type="application/json",
        ) from None


# --- catalog -------------------------------------------------------------------------
async def catalog_items(request: web.Request) -> web.Response:
    if request.headers.get("If-None-Match") == ITEMS_ETAG:
        return web.Response(status=304, headers={"ETag": ITEMS_ETAG})
    return web.json_response(
        {"items": ITEMS, **request.app[IDENTITY].fields()},
        headers={"ETag": ITEMS_ETAG, "Cache-Control": "max-age=5"},
    )


async def catalog_item(request: web.Request) -> web.Response:
    raw = request.match_info["id"]
    item = next((i for i in ITEMS if str(i["id"]) == raw or i["sku"] == raw), None)
    if item is None:
        return error(404, "not_found", f"no catalog item {raw!r}")
    return web.json_response({**item, **request.app[IDENTITY].fields()})


# --- orders ---------------------------------------------------------------------------
def _order_problem(body: Any) -> str | None:
    if not isinstance(body, dict):
        return "expected a JSON object with item_id and quantity"
    item_id = body.get("item_id")
    if not isinstance(item_id, int) or not any(i["id"] == item_id for i in ITEMS):
        return "item_id must be the id of a catalog item"
    quantity = body.get("quantity", 1)
    if not isinstance(quantity, int) or isinstance(quantity, bool) or not 1 <= quantity <= 100:
        return "quantity must be an integer from 1 to 100"
    user = body.get("user", "")
    if not isinstance(user, str) or len(user) > 64:
        return "user must be a string"
    return None


async def create_order(request: web.Request) -> web.Response:
    raw = await request.read()
    body = await json_body(request)
    problem = _order_problem(body)
    if problem:
        return error(400, "bad_order", problem)
    store = request.app[STORE]
    identity = request.app[IDENTITY].fields()
    key = request.headers.get(IDEMPOTENCY_HEADER)
    fingerprint = hashlib.sha256(raw).hexdigest()
    if key is not None:
        if not _KEY.match(key):
            return error(400, "bad_idempotency_key", "Idempotency-Key must be 1-255 visible chars")
        claim = {"state": "processing", "fp": fingerprint, "at": time.time()}
        existing = await store.create(f"idem/{key}", claim)
        if existing is not None and not _abandoned(existing, fingerprint):
            return _replay(existing, fingerprint)
        if existing is not None:
            await store.put(f"idem/{key}", claim)
    item = next(i for i in ITEMS if i["id"] == body["item_id"])
    quantity = body.get("quantity", 1)
    order = {
        "id": uuid.uuid4().hex[:12],
        "item_id": item["id"],
        "quantity": quantity,
        "user": body.get("user", ""),
        "total": round(item["price"] * quantity, 2),
        "created_at": time.time(),
        "created_in_zone": identity["zone"],
    }
    await store.put(f"orders/{order['id']}", order)
    if key is not None:
        await store.put(f"idem/{key}", {"state": "done", "fp": fingerprint, "order": order})
    return web.json_response({**order, **identity}, status=201)


def _abandoned(existing: JSON, fingerprint: str) -> bool:
    """A claim whose request died before finishing (same body, still processing, stale)."""
    return (
        existing.get("state") == "processing"
        and existing.get("fp") == fingerprint
        and time.time() - float(existing.get("at", 0)) > ABANDONED_AFTER_S
    )


def _replay(existing: JSON, fingerprint: str) -> web.Response:
    """Same key again: the first answer (same body), 422 (other body) or 409 (in flight)."""
    if existing.get("fp") != fingerprint:
        return error(
            422, "idempotency_key_reused", "this Idempotency-Key was used with a different body"
        )
    if existing.get("state") != "done":
        return error(409, "request_in_progress", "a request with this Idempotency-Key is running")
    return web.json_response(existing["order"], status=201, headers={REPLAYED_HEADER: "true"})


async def get_order(request: web.Request) -> web.Response:
    order = await request.app[STORE].get(f"orders/{request.match_info['id']}")
    if order is None:
        return error(404, "not_found", "no such order")
    return web.json_response({**order, **request.app[IDENTITY].fields()})


async def list_orders(request: web.Request) -> web.Response:
    orders = await request.app[STORE].list("orders/", limit=100)
    user = request.query.get("user")
    if user:
        orders = [o for o in orders if o.get("user") == user]
    return web.json_response({"orders": orders, **request.app[IDENTITY].fields()})


# --- users ----------------------------------------------------------------------------
def _session_token(request: web.Request) -> str | None:
    auth = request.headers.get("Authorization", "")
    if auth.startswith("Bearer "):
        return auth[len("Bearer ") :].strip() or None
    return request.cookies.get(SESSION_COOKIE)


async def login(request: web.Request) -> web.Response:
    body = await json_body(request)
    username = body.get("username") if isinstance(body, dict) else None
    if not isinstance(username, str) or not _USERNAME.match(username):
        return error(400, "bad_login", "username must be 1-32 of a-z 0-9 . _ -")
    identity = request.app[IDENTITY].fields()
    token = secrets.token_urlsafe(24)
    session = {
        "user": username,
        "created_at": time.time(),
        "expires_at": time.time() + SESSION_TTL_S,
        "created_in_zone": identity["zone"],
    }
    await request.app[STORE].put(f"sessions/{token}", session)
    response = web.json_response({**session, "session": token, **identity})
    response.set_cookie(
        SESSION_COOKIE, token, max_age=SESSION_TTL_S, httponly=True, samesite="Lax", path="/"
    )
    return response


async def me(request: web.Request) -> web.Response:
    token = _session_token(request)
    session = await request.app[STORE].get(f"sessions/{token}") if token else None
    if session is None or session.get("expires_at", 0) < time.time():
        return error(401, "not_logged_in", "no valid session: POST /users/login first")
    return web.json_response({**session, **request.app[IDENTITY].fields()})


async def logout(request: web.Request) -> web.Response:
    token = _session_token(request)
    if token:
        await request.app[STORE].delete(f"sessions/{token}")
    response = web.Response(status=204)
    response.del_cookie(SESSION_COOKIE, path="/")
    return response


async def profile(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    if not _USERNAME.match(name):
        return error(404, "not_found", "no such user")
    return web.json_response(
        {"user": name, "display_name": name.title(), **request.app[IDENTITY].fields()}
    )


# --- wiring ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Identity:
    """Which instance answered: merged into every JSON answer."""

    service: str
    zone: str
    instance: str

    def fields(self) -> dict[str, str]:
        return {"service": self.service, "zone": self.zone, "instance": self.instance}


IDENTITY: web.AppKey[Identity] = web.AppKey("identity", Identity)
STORE: web.AppKey[Store] = web.AppKey("store")


def add_routes(app: web.Application, service: str) -> None:
    router = app.router
    if service == "catalog":
        router.add_get("/catalog/items", catalog_items)
        router.add_get("/catalog/items/{id}", catalog_item)
    elif service == "orders":
        router.add_post("/orders", create_order)
        router.add_get("/orders", list_orders)
        router.add_get("/orders/{id}", get_order)
    elif service == "users":
        router.add_post("/users/login", login)
        router.add_get("/users/me", me)
        router.add_post("/users/logout", logout)
        router.add_get("/users/{name}", profile)
    else:
        raise ValueError(f"unknown demo service {service!r}")
