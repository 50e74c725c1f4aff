"""The application package: factory, configuration and the shared HTTP mechanisms.

`create_app` lives in `api.app`; this package stays free of imports so that
namespaces can use its mechanisms without loading the factory.
"""
