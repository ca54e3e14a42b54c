"""Compiled path templates of composition calls.

Values are percent-encoded as one path segment / query value (``/`` and ``?``
included), and a value of ``.`` or ``..`` in the path part is refused, so a
substituted field can never change which resource the call addresses beyond
its own segment.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from zonegate.node.compose.graph import PLACEHOLDER, template_references


class TemplateError(Exception):
    """A value a template needs is missing or unusable. ``client`` marks the request's fault."""

    def __init__(self, message: str, *, client: bool) -> None:
        super().__init__(message)
        self.client = client


class Inputs:
    """What a template can read: route path params, query params, earlier calls' JSON bodies."""

    __slots__ = ("path", "query", "results")

    def __init__(
        self,
        path: Mapping[str, str | None],
        query: Mapping[str, str],
        results: Mapping[str, Any] | None = None,
    ) -> None:
        self.path = path
        self.query = query
        self.results: Mapping[str, Any] = results if results is not None else {}


Ref = tuple[str, tuple[str, ...], bool]
"""(source, field path, in the query part)"""


def _walk(value: Any, fields: tuple[str, ...], name: str) -> Any:
    for field in fields:
        if isinstance(value, dict) and field in value:
            value = value[field]
        elif isinstance(value, list) and field.isdigit() and int(field) < len(value):
            value = value[int(field)]
        else:
            raise TemplateError(f"field {name} is missing in the answer", client=False)
    return value


class PathTemplate:
    __slots__ = ("parts", "refs", "text")

    def __init__(self, text: str) -> None:
        template_references(text)  # syntax check
        self.text = text
        query_at = text.find("?")
        parts: list[str | Ref] = []
        pos = 0
        for match in PLACEHOLDER.finditer(text):
            parts.append(text[pos : match.start()])
            source, *fields = match.group(1).split(".")
            parts.append((source, tuple(fields), 0 <= query_at < match.start()))
            pos = match.end()
        parts.append(text[pos:])
        self.parts: tuple[str | Ref, ...] = tuple(p for p in parts if p != "")
        self.refs: tuple[Ref, ...] = tuple(p for p in self.parts if isinstance(p, tuple))

    def render(self, inputs: Inputs) -> str:
        out: list[str] = []
        for part in self.parts:
            if isinstance(part, str):
                out.append(part)
            else:
                out.append(self._value(part, inputs))
        return "".join(out)

    @staticmethod
    def _value(ref: Ref, inputs: Inputs) -> str:
        source, fields, in_query = ref
        name = ".".join((source, *fields))
        value: Any
        if source == "path":
            value = inputs.path.get(fields[0])
            if value is None:
                raise TemplateError(f"missing path parameter {fields[0]!r}", client=True)
        elif source == "query":
            value = inputs.query.get(fields[0])
            if value is None:
                raise TemplateError(f"missing query parameter {fields[0]!r}", client=True)
        else:
            if source not in inputs.results:
                raise TemplateError(f"call {source!r} has no result", client=False)
            value = _walk(inputs.results[source], fields, name)
        if isinstance(value, bool):
            text = "true" if value else "false"
        elif isinstance(value, str | int | float):
            text = str(value)
        else:
            raise TemplateError(f"field {name} is not a string or number", client=False)
        encoded = quote(text, safe="")
        if not in_query and encoded in ("", ".", ".."):
            raise TemplateError(f"value of {name} is not a usable path segment", client=False)
        return encoded
