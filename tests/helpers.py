"""Small test utilities shared by several test modules."""

from __future__ import annotations

from typing import Any

from shared.storage import ObjectStorage


class IsolatedContainers:
    """Wraps a storage so that every container name gets a per-test suffix.

    Azurite runs once per session; this keeps tests that use fixed container names
    ("inbox", "ledger") from seeing each other's objects.
    """

    def __init__(self, inner: ObjectStorage, suffix: str) -> None:
        self._inner = inner
        self._suffix = suffix

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._inner, name)

        def call(container: str, *args: Any, **kwargs: Any) -> Any:
            return method(f"{container}-{self._suffix}", *args, **kwargs)

        return call


def registered_functions() -> dict[str, Any]:
    """The function app's functions by name, as the host indexes them.

    ``get_functions()`` refuses names it has already seen (other test modules call it), so
    the app's recorded bindings are reset for the call and restored after it.
    """
    import function_app

    app = function_app.app
    recorded = app.functions_bindings
    app.functions_bindings = {}
    try:
        return {fn.get_function_name(): fn for fn in app.get_functions()}
    finally:
        app.functions_bindings = recorded
