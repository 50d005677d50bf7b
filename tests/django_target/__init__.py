"""A minimal Django project used as a real third-party target: its admin, one model (notes.Note).

Started by ``server.start_django`` as a subprocess (``runserver``) on a loopback port; the
tests reach it as ``http://django.test`` through the proxy's resolver override.
"""
