"""The PySide6 desktop app. Shows and forwards; the rules live in the layers below."""
