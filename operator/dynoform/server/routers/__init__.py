"""The Platform API's routes, one module a resource."""
