"""MkDocs hook: the configuration reference, generated from the pydantic settings models.

A page line ``<!-- settings: module:Class dist -->`` becomes one table per (nested) model:
every environment variable with its type, default, bounds and description. So the
reference cannot drift from the code: a new field appears on the next build. ``dist`` is
the distribution to install when ``module`` cannot be imported (adapters are optional);
then the page says so instead of failing the build.
"""

from __future__ import annotations

import importlib
import inspect
import logging
import re
import types
import typing
from enum import Enum
from typing import Any

import annotated_types
from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import Files
from mkdocs.structure.pages import Page
from pydantic import BaseModel, SecretStr
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

log = logging.getLogger("mkdocs.hooks.settings_reference")

MARKER = re.compile(r"^<!-- settings: (?P<target>[\w.]+:\w+) (?P<dist>[\w.-]+) -->$", re.MULTILINE)
_BOUNDS = (
    (annotated_types.Ge, "ge", "≥"),
    (annotated_types.Gt, "gt", ">"),
    (annotated_types.Le, "le", "≤"),
    (annotated_types.Lt, "lt", "<"),
    (annotated_types.MinLen, "min_length", "length ≥"),
    (annotated_types.MaxLen, "max_length", "length ≤"),
)


def on_page_markdown(markdown: str, page: Page, config: MkDocsConfig, files: Files) -> str:  # noqa: ARG001 - MkDocs hook signature
    """Replace each settings marker with the generated tables."""
    return MARKER.sub(lambda match: render(match["target"], match["dist"]), markdown)


def render(target: str, dist: str) -> str:
    """The markdown reference of the settings class ``module:Class``."""
    module_name, class_name = target.split(":")
    try:
        model = getattr(importlib.import_module(module_name), class_name)
    except ImportError:
        log.info("settings reference: %s not importable, pointing at %s", target, dist)
        return f'!!! note "Not installed when these docs were built"\n    `pip install {dist}`'
    prefix = model.model_config.get("env_prefix", "")
    nested = model.model_config.get("env_nested_delimiter") or ""
    return "\n\n".join(_sections(model, prefix, nested, level=3))


def _sections(model: type[BaseModel], prefix: str, nested: str, level: int) -> list[str]:
    rows, children = [], []
    for name, field in model.model_fields.items():
        variable = prefix + (field.alias or name).upper()
        sub = _model_type(field.annotation)
        if sub is not None and nested:
            heading = f"{'#' * level} `{variable}{nested}*`"
            doc = inspect.getdoc(sub) or ""
            body = _sections(sub, variable + nested, nested, level + 1)
            children.append("\n\n".join([heading, doc.split("\n\n")[0], *body]))
            continue
        rows.append(
            f"| `{variable}` | {_type_name(field.annotation)} | {_default(field)} "
            f"| {_describe(field)} |"
        )
    table = ["| variable | type | default | meaning |", "|---|---|---|---|", *rows]
    return ["\n".join(table), *children] if rows else children


def _model_type(annotation: Any) -> type[BaseModel] | None:
    if inspect.isclass(annotation) and issubclass(annotation, BaseModel):
        return annotation
    return None


def _type_name(annotation: Any) -> str:
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Literal:
        return " \\| ".join(f"`{arg}`" for arg in args)
    if origin in (typing.Union, types.UnionType):
        return " \\| ".join(_type_name(arg) for arg in args)
    if origin is not None:
        inner = ", ".join(_type_name(arg).strip("`") for arg in args)
        return f"`{getattr(origin, '__name__', origin)}[{inner}]`"
    if annotation is type(None):
        return "unset"
    if annotation is SecretStr:
        return "secret"
    return f"`{getattr(annotation, '__name__', annotation)}`"


def _default(field: FieldInfo) -> str:
    if field.default_factory is not None:
        value = field.default_factory()  # type: ignore[call-arg]
    elif field.default is PydanticUndefined:
        return "**required**"
    else:
        value = field.default
    if value is None or value == {}:
        return "unset"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"  # as it is written in the environment
    if isinstance(value, Enum):
        value = value.value
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10_000:  # noqa: PLR2004 - group digits of big numbers only
        return f"`{value:_}`"
    return f"`{value}`"


def _describe(field: FieldInfo) -> str:
    bounds = [
        f"{symbol} {getattr(item, attr)}"
        for item in field.metadata
        for kind, attr, symbol in _BOUNDS
        if isinstance(item, kind)
    ]
    text = (field.description or "").replace("|", "\\|").replace("\n", " ")
    if bounds:
        text = f"{text} ({', '.join(bounds)})" if text else ", ".join(bounds)
    return text or "—"
