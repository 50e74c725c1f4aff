"""The Swagger UI page.

Flask-RESTX's bundled page hard-codes the options it passes to Swagger UI, so settings
such as `persistAuthorization` cannot be turned on through the configuration. This page
reuses Flask-RESTX's assets (served by the app, no CDN) and builds the options from the
`SWAGGER_UI_*` settings.
"""

from flask import current_app, render_template, url_for


def ui_options(spec_url: str, config) -> dict:
    """The options given to `SwaggerUIBundle`."""
    return {
        "url": spec_url,
        "dom_id": "#swagger-ui",
        # None keeps the page from sending the spec to an online validator.
        "validatorUrl": config.get("SWAGGER_VALIDATOR_URL") or None,
        "docExpansion": config.get("SWAGGER_UI_DOC_EXPANSION", "none"),
        "displayOperationId": bool(config.get("SWAGGER_UI_OPERATION_ID", False)),
        "displayRequestDuration": bool(config.get("SWAGGER_UI_REQUEST_DURATION", False)),
        "persistAuthorization": bool(config.get("SWAGGER_UI_PERSIST_AUTHORIZATION", False)),
    }


def render_swagger_ui(api) -> str:
    # A relative spec URL keeps working behind a proxy that rewrites the host or scheme.
    spec_url = url_for(api.endpoint("specs"))
    return render_template(
        "swagger_ui.html", title=api.title, options=ui_options(spec_url, current_app.config)
    )
