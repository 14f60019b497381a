"""Log output for applications and the CLI: JSON lines or a console line, optional file.

The library only logs to stdlib loggers under ``memcore.*`` and adds no handler on
import; an application calls :func:`configure_logging` once (or routes ``memcore`` logs
with its own logging setup). Structured fields travel as ``extra=`` attributes of the
log record, so any formatter can read them; :class:`JsonFormatter` writes them all.
"""

from __future__ import annotations

import json
import logging
import logging.handlers
import sys
from datetime import datetime, timezone
from typing import IO, Any

from memcore.settings import LoggingSettings

__all__ = ["ConsoleFormatter", "JsonFormatter", "configure_logging"]

ROOT_LOGGER = "memcore"

# Attributes every LogRecord has; anything else on a record was passed as `extra=`.
_STANDARD_ATTRS = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}


def extra_fields(record: logging.LogRecord) -> dict[str, Any]:
    """The structured fields passed to the logging call as ``extra=``."""
    return {key: value for key, value in vars(record).items() if key not in _STANDARD_ATTRS}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ``ts``, ``level``, ``logger``, ``message`` + extra fields."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, timezone.utc).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            **extra_fields(record),
        }
        if record.exc_info:
            data["exc_info"] = self.formatException(record.exc_info)
        return json.dumps(data, default=str, ensure_ascii=False)


class ConsoleFormatter(logging.Formatter):
    """``12:00:00.123 INFO memcore.service message key=value ...`` for humans."""

    def format(self, record: logging.LogRecord) -> str:
        moment = datetime.fromtimestamp(record.created, timezone.utc).strftime("%H:%M:%S.%f")
        fields = " ".join(f"{key}={value}" for key, value in extra_fields(record).items())
        line = f"{moment[:-3]} {record.levelname:<7} {record.name} {record.getMessage()}"
        line = f"{line} {fields}" if fields else line
        if record.exc_info:
            line = f"{line}\n{self.formatException(record.exc_info)}"
        return line


class _MemcoreHandler(logging.Handler):
    """Marker base: handlers :func:`configure_logging` installed and may replace."""


class _StreamHandler(logging.StreamHandler, _MemcoreHandler):  # type: ignore[type-arg]
    pass


class _FileHandler(logging.handlers.RotatingFileHandler, _MemcoreHandler):
    pass


def configure_logging(
    settings: LoggingSettings | None = None, *, stream: IO[str] | None = None, **fields: Any
) -> logging.Logger:
    """Send ``memcore.*`` logs to ``stream`` (stderr by default) and the optional file.

    ``settings`` (or keyword ``fields`` of :class:`~memcore.settings.LoggingSettings`,
    e.g. ``configure_logging(format="json", level="DEBUG")``) choose the format, level and
    rotating file. Calling it again replaces what the previous call installed. The
    ``memcore`` logger stops propagating to the root logger, so records are not written
    twice when the application has its own handlers. Returns the ``memcore`` logger.
    """
    settings = settings or LoggingSettings(**fields)
    formatter = JsonFormatter() if settings.format == "json" else ConsoleFormatter()
    logger = logging.getLogger(ROOT_LOGGER)
    for old in [h for h in logger.handlers if isinstance(h, _MemcoreHandler)]:
        logger.removeHandler(old)
        old.close()
    handlers: list[logging.Handler] = [_StreamHandler(stream or sys.stderr)]
    if settings.file is not None:
        settings.file.parent.mkdir(parents=True, exist_ok=True)
        handlers.append(
            _FileHandler(
                settings.file,
                maxBytes=settings.file_max_bytes,
                backupCount=settings.file_backups,
                encoding="utf-8",
            )
        )
    for handler in handlers:
        handler.setFormatter(formatter)
        logger.addHandler(handler)
    logger.setLevel(settings.level)
    logger.propagate = False
    return logger
