"""Example Conductor plugin package."""
