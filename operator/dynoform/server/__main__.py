"""`python -m dynoform.server`: the Platform API in a pod (the chart's Deployment)."""

from dynoform.server.main import main

raise SystemExit(main())
