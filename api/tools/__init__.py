"""The work behind `manage.py`'s commands, kept out of the click functions so it can be
reused and tested on its own: demo data, the spec and Postman exports, the gunicorn server.
"""
