"""The release phase: runs once per new image, before any dyno gets it. It "migrates", and
fails when MIGRATION_FAILS is set, so that a failed release can be seen stopping a rollout."""

import os
import sys

print("Running migrations...", flush=True)
if os.environ.get("MIGRATION_FAILS"):
    print("migration 0042_add_index failed: relation orders does not exist", flush=True)
    sys.exit(1)
print("Migrations done.", flush=True)
