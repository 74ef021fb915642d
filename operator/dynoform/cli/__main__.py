"""`python -m dynoform.cli` runs the CLI, as the `dyno` script does."""

import sys

from dynoform.cli.main import main

sys.exit(main())
