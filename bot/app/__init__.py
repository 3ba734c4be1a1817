"""The application layer: room lifecycle and the message router, behind `App`."""

from bot.app.application import App

__all__ = ["App"]
