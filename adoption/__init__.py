"""Adopting a PostgreSQL database of the earlier service (``../shared/legacy-schema.md``) in place.

A deployment tool above every app (like ``config``), not a business service, so it may look at every app's models.
``catalogue`` reads what the database holds and what this project expects, ``plan`` compares the two and refuses
or returns the steps (``steps`` builds each one), ``apply`` runs them in one transaction.
"""
