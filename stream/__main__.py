"""``python -m harstream``: the ``harstream`` command."""
import sys

from .cli import main

sys.exit(main())
