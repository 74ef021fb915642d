"""`python -m dynoform`: the operator (dynoform.operator.main)."""

import sys

from dynoform.operator.main import main

if __name__ == "__main__":
    sys.exit(main())
