"""``python -m azure_trainer`` is the ``azure-trainer`` command."""

import sys

from .cli import main

sys.exit(main())
