"""Published rule sets shipped with healthcode (data, not code): `default.json`."""
