"""The worker process: takes a job every second and says so in its log."""

import itertools
import os
import signal
import sys
import time

signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # stop at once, as Heroku asks
dyno = os.environ.get("DYNO", "worker")
for job in itertools.count(1):
    print(f"{dyno} processed job {job}", flush=True)
    time.sleep(1)
