"""Mitra's action server: thin actions that read slots, call the loyalty backend and
dispatch responses from the domain. No business rule lives here."""
