"""`python -m bot.cli`: the same command line as `rtcops`, for environments without the console script."""

from bot.cli import main

main()
