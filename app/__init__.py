"""Kianax: a desktop control panel for durable automations."""

__version__ = "0.1.0"
