"""Everything that speaks to HubSpot (or the emulator).

    transport.py   session, pacing (limiter.py), retries, timeouts and deadlines (deadline.py), secrets
    api_errors.py  HubSpot's error answers -> the project's exceptions (a status table)
    paths.py       where each endpoint lives in either API version
    account.py, schema.py, deals.py   the endpoints; batching.py splits batches at HubSpot's limit
    wire.py        HubSpot JSON <-> the project's types
    client.py      HubSpotClient: the endpoints over one transport
    connect.py     which portal a command talks to; live.py reads the live portal
"""
