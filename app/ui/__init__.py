"""The PySide6 desktop app. Shows and forwards; the rules live in the layers below."""

from app.ui.pyside_imports import stop_source_caching

stop_source_caching()  # before the app's own modules and the engine's are imported
