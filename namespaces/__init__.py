"""One module per Flask-RESTX namespace; `api.rest.blueprint` adds them to the API."""
