"""The value sync: Accord trigger events onto HubSpot deals, only what changed.

``events`` parses, checks and coalesces input lines, ``store`` keeps what HubSpot confirmed
(SQLite), ``engine`` accepts, diffs and records, ``sender`` batches and reads HubSpot's answers,
``verify`` reads deals back to find values edited by hand.
"""
