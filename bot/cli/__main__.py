"""`python -m bot.cli …` is `qingqun …`."""

from bot.cli.main import main

raise SystemExit(main())
