"""The application layer: room lifecycle and the message router, behind `App`."""

from bot.app.application import App, WrongAccount

__all__ = ["App", "WrongAccount"]
