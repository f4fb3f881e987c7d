"""healthcode: accountable health codes, place codes, check-ins and contact tracing."""

__version__ = "0.1.0"
