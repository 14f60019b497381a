"""Adapter settings sections, and the check that every setting's name is a known one.

Each adapter contributes a *section*: a pydantic-settings model under a name of its own
(``redis``), read from its own environment prefix (``MEMCORE_REDIS_URL``) and given in
code as ``memcore.connect(redis={"url": ...})``. A distribution registers it in the
``memcore.settings`` entry-point group, beside its backend::

    [project.entry-points."memcore.settings"]
    redis = "memcore_redis.settings:RedisSettings"

Applications and tests register one with :func:`register_settings`. A section model is
imported only when its section is used, so an installed but unused adapter costs nothing.

A name that is no setting is a typo until proven otherwise: a keyword argument, a key of
a section, or a ``MEMCORE_*`` environment variable that names nothing raises
:class:`~memcore.errors.ConfigurationError` with the nearest known name
(:func:`did_you_mean`). Environment names of memcore's own adapters that are not
installed, and those of test tooling (``MEMCORE_TEST_*``, ``MEMCORE_RELIABILITY_REPORT``),
are left alone.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Collection, Iterable, Mapping
from importlib import import_module
from importlib.metadata import entry_points
from typing import Any, TypeVar, get_origin

import pydantic
from pydantic import BaseModel
from pydantic_settings import BaseSettings

from memcore.errors import ConfigurationError

__all__ = [
    "SECTIONS_GROUP",
    "configuration_error",
    "did_you_mean",
    "load_section",
    "register_settings",
    "section_model",
    "section_names",
    "unregister_settings",
]

SECTIONS_GROUP = "memcore.settings"
ROOT_PREFIX = "MEMCORE_"
# Sections of memcore's own distributions: their variables may be set where the
# distribution is not installed (one environment for several processes).
FIRST_PARTY = frozenset({"redis", "openai", "local", "http", "mcp"})
# Read by test tooling, not by settings: MEMCORE_TEST_REDIS_URL and the like, and where the
# reliability suite writes its report (MEMCORE_RELIABILITY_REPORT).
TOOLING = ("TEST_", "RELIABILITY_REPORT")

SectionT = TypeVar("SectionT", bound=BaseSettings)

_registered: dict[str, type[BaseSettings]] = {}


def register_settings(name: str, model: type[BaseSettings]) -> None:
    """Make ``model`` the section ``name`` without an entry point (tests, applications)."""
    _registered[name] = model


def unregister_settings(name: str) -> None:
    """Forget a section added with :func:`register_settings` (entry points stay)."""
    _registered.pop(name, None)


def section_names() -> set[str]:
    """Every registered section name (nothing is imported)."""
    return {ep.name for ep in entry_points(group=SECTIONS_GROUP)} | set(_registered)


def section_model(name: str) -> type[BaseSettings]:
    """The settings model of section ``name``, imported now."""
    if name in _registered:
        return _registered[name]
    found = [ep for ep in entry_points(group=SECTIONS_GROUP) if ep.name == name]
    if not found:
        raise ConfigurationError(f"no settings section {name!r} is installed")
    module_name, _, attr = found[0].value.partition(":")
    model: type[BaseSettings] = getattr(import_module(module_name), attr)
    return model


def env_prefix(model: type[BaseSettings]) -> str:
    """The environment prefix of ``model`` (``MEMCORE_REDIS_``)."""
    return str(model.model_config.get("env_prefix", "")).upper()


def load_section(model: type[SectionT], **values: Any) -> SectionT:
    """``model`` from its environment variables and ``values`` (which win).

    Raises :class:`~memcore.errors.ConfigurationError` for a key of ``values`` or a
    variable under the model's prefix that is no field of it, or a bad value (named as
    its environment variable).
    """
    prefix = env_prefix(model)
    for key in values:
        if key not in model.model_fields:
            hint = did_you_mean(key, model.model_fields)
            raise ConfigurationError(f"unknown setting {key!r} of {model.__name__}{hint}")
    known = field_names(model, prefix, delimiter=model.model_config.get("env_nested_delimiter"))
    check_environment(prefix, known)
    try:
        return model(**values)
    except pydantic.ValidationError as exc:
        raise configuration_error(exc, prefix) from exc


def field_names(model: type[BaseModel], prefix: str, *, delimiter: str | None) -> set[str]:
    """Every environment name of ``model``'s fields, upper case. With ``delimiter``, also
    those of its nested models' fields, and ``<dict field><delimiter>*`` for its mappings.
    """
    names = set()
    for name, info in model.model_fields.items():
        names.add(f"{prefix}{name}".upper())
        nested, below = info.annotation, f"{prefix}{name}{delimiter}"
        if not delimiter:
            continue
        if isinstance(nested, type) and issubclass(nested, BaseModel):
            names |= field_names(nested, below, delimiter=delimiter)
        elif get_origin(nested) is dict:
            names.add(f"{below}*".upper())
    return names


def check_environment(
    prefix: str, known: Collection[str], *, elsewhere: Iterable[str] = ()
) -> None:
    """Raise for an environment variable under ``prefix`` that is not in ``known`` (where
    ``X*`` stands for any name starting with ``X``) and starts with none of ``elsewhere``
    (prefixes checked by their own owners).
    """
    skipped = (*elsewhere, *(name[:-1] for name in known if name.endswith("*")))
    for name in os.environ:
        upper = name.upper()
        if upper.startswith(prefix) and upper not in known and not upper.startswith(skipped):
            hint = did_you_mean(upper, (k for k in known if not k.endswith("*")))
            raise ConfigurationError(f"unknown setting {name}{hint}", setting=name)


def sections_elsewhere(sections: Iterable[str]) -> tuple[str, ...]:
    """Environment prefixes the core leaves to sections: the registered ones (checked when
    their section loads), memcore's own adapters when not installed, and test tooling.
    """
    owned = (f"{ROOT_PREFIX}{name.upper()}_" for name in {*sections, *FIRST_PARTY})
    return (*owned, *(ROOT_PREFIX + tooling for tooling in TOOLING))


def did_you_mean(name: str, known: Iterable[str]) -> str:
    """``"; did you mean 'X'?"`` for the nearest of ``known``, or ``""``."""
    close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def split_overrides(
    overrides: Mapping[str, Any], core: Collection[str], sections: Collection[str]
) -> dict[str, Mapping[str, Any] | BaseSettings]:
    """The section values among ``overrides``; raise for a name that is neither a core
    setting (``core``) nor a section (``redis={"url": ...}``).
    """
    found: dict[str, Mapping[str, Any] | BaseSettings] = {}
    for name, value in overrides.items():
        if name in core:
            continue
        if name not in sections:
            raise ConfigurationError(f"unknown setting {name!r}{_hint(name, core, sections)}")
        if not isinstance(value, (Mapping, BaseSettings)):
            raise ConfigurationError(
                f"setting {name!r} is a section: give a dict ({name}={{...}}) or its settings model"
            )
        found[name] = value
    return found


def _hint(name: str, core: Collection[str], sections: Collection[str]) -> str:
    section, _, key = name.partition("_")
    if section in sections and key:  # redis_url: the section's key, spelled flat
        return f"; did you mean {section}={{{key!r}: ...}}?"
    return did_you_mean(name, [*core, *sections])


def configuration_error(exc: pydantic.ValidationError, prefix: str) -> ConfigurationError:
    """Turn a pydantic error into a :class:`ConfigurationError` naming the variable."""
    first = exc.errors()[0]
    setting = prefix + "__".join(str(part) for part in first["loc"]).upper()
    return ConfigurationError(f"invalid setting {setting}: {first['msg']}", setting=setting)
