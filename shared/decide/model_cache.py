"""A trained offline text model kept on local disk, so a process loads it instead of
training it again (training takes seconds; loading a fraction of one).

The file is keyed by everything the model depends on: the training file's and the
thresholds file's bytes, the code that trains it and the scikit-learn version; any change
means a new key and a fresh fit. Only files this module wrote are read (it is a private
cache, ``$XDG_CACHE_HOME/insightloop`` or ``~/.cache/insightloop``); an unwritable cache
only costs the fit.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import logging
import os
import pickle
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TypeVar

logger = logging.getLogger(__name__)
T = TypeVar("T")


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "insightloop"


def cache_key(files: Iterable[Path], code: Iterable[Path]) -> str:
    # The version from the package metadata: importing scikit-learn takes over a second.
    digest = hashlib.sha256(importlib.metadata.version("scikit-learn").encode())
    for path in [*files, *code]:
        digest.update(path.name.encode())
        digest.update(path.read_bytes() if path.is_file() else b"-")
    return digest.hexdigest()[:32]


def cached(key: str, build: Callable[[], T], folder: Path | None = None) -> T:
    """``build()``'s result, from ``<folder>/text-model-<key>.pkl`` when it is there."""
    path = (folder or cache_dir()) / f"text-model-{key}.pkl"
    try:
        with path.open("rb") as handle:
            return pickle.load(handle)  # noqa: S301 - our own cache file, keyed by content
    except FileNotFoundError:
        pass
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError) as exc:
        logger.warning("model cache %s unreadable, training again: %s", path, exc)
    value = build()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f".{os.getpid()}.tmp")
        partial.write_bytes(pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL))
        partial.replace(path)
        for stale in path.parent.glob("text-model-*.pkl"):
            if stale != path:  # an older training file or code: never read again
                stale.unlink(missing_ok=True)
    except (OSError, pickle.PicklingError, TypeError) as exc:
        logger.info("model cache %s not written: %s", path, exc)
    return value


__all__ = ["cache_dir", "cache_key", "cached"]
