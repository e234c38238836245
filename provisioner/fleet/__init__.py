"""Many portals: the registry, their credentials, PostgreSQL as store and queue, fleet runs.

- ``location``: which store a command uses (a SQLite file, or PostgreSQL by URL).
"""
