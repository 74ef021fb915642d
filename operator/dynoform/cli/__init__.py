"""The Heroku-style CLI `dyno` (also `kubectl dyno`): Heroku's habits on a Formation.

Layout: pure modules parse and render (grammar, edit, dynos, render, procfile, oneoff, logs);
`api` is the one module that talks to Kubernetes (lightkube's sync Client, plus `kubectl attach`
for attached runs); `commands/` wire the two together; `main` is argparse and exit codes.
The CLI is a client like any other: it never imports the operator's handlers or reconcile.
"""
