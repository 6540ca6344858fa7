"""`loader push` (not written yet)."""

from loader.cli._app import app, guarded  # noqa: F401
