"""Reporting: tables and charts over the toolkit's xarray objects."""
