"""Accounts: registration, login, logout, settings, admin creation."""
