"""healthcode: accountable health codes, place codes, check-ins and contact tracing."""
