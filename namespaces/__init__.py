"""One module per Flask-RESTX namespace; `api.rest` adds them to the API."""
