"""`qingqun …`: the command line. Each command is a thin call into the services."""

from bot.cli.main import main

__all__ = ["main"]
