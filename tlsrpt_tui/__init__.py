"""tlsrpt-tui: explore SMTP TLS Reporting (RFC 8460) aggregate reports in the terminal."""

__version__ = "0.1.0"
