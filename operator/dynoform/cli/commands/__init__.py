"""The dyno commands: each reads through `Api`, computes with the pure modules, prints."""
