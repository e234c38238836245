"""provisioner: keep a HubSpot portal's Accord deal fields true to a reviewed YAML file."""

__version__ = "0.1.0"
