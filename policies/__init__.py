"""Pure policy code: facts in, verdicts out. No I/O, no wechaty, `now` is always passed in."""
