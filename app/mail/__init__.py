"""Outbound mail, standard library only: the SMTP URL, message building, transports (SMTP and .eml files)."""
