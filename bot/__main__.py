"""``python -m bot`` is ``marquee``."""

import sys

from bot.cli import main

sys.exit(main())
