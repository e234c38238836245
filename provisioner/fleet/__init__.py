"""Many portals: the registry, their credentials, PostgreSQL as store and queue, fleet runs.

- ``location``: which store a command uses (a SQLite file, or PostgreSQL by URL).
- ``registry``: the registered portals (a ``portals`` table in either store); ``sealing``: Fernet
  for the tokens it keeps; ``credentials``: a portal's client, OAuth refresh once across processes.
- ``runs`` and ``saved``: plan, apply and drift over every portal; saved fleet plans.
- ``pgschema``, ``pgstore``: the PostgreSQL store (every row keyed by portal id); ``pgqueue`` and
  ``pgbucket``: portal claims and their shared rate-limit tokens; ``pgrun``: push and the worker
  loop; ``pgserve``: ``serve`` on PostgreSQL; ``pgopen``: what a command opens.
"""
