"""The dyno.dev API: models (v1alpha1) and the condition helpers that go with them."""
