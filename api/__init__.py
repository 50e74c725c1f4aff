"""The application: the factory and configuration, and the mechanisms every namespace uses.

* `api.factory`, `api.config`, `api.extensions`: building the Flask application.
* `api.plumbing`: what every request goes through before and after any resource (request
  ids, body checks, JSON in and out, errors, logs, CORS, the health check).
* `api.rest`: the Flask-RESTX layer: the blueprint and its `Api`, the `Namespace` and
  `Resource` bases, field masks, request fields, the spec and Swagger UI.
* `api.policies`: the rules every resource applies: authentication, owner-scoped
  loading, pagination, conditional requests, idempotent POSTs, rate limits.
* `api.tools`: what `manage.py` runs: seeding, exports of the spec and Postman, the server.

This package imports nothing, so a namespace can use a mechanism without the factory.
"""
