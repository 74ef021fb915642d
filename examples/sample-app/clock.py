"""The clock process: one per app (a singleton), it schedules work every few seconds."""

import signal
import sys
import time

signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
while True:
    print(f"tick at {time.strftime('%H:%M:%S')}: enqueued the periodic jobs", flush=True)
    time.sleep(5)
