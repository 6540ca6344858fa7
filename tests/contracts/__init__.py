"""Contracts that cross languages: the copies that must remain are compared here."""
