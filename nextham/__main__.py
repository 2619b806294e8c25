"""``python -m nextham``: the command line, as the ``nextham`` script."""
import sys

from .cli.main import main

sys.exit(main())
