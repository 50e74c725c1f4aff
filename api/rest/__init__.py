"""The Flask-RESTX layer: the `Api` object, the Namespace and Resource bases, masks and fields."""
