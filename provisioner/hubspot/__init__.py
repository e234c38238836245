"""Everything that speaks to HubSpot (or the emulator): the client, its wire conversions,
connecting to a portal, and reading the live portal."""
