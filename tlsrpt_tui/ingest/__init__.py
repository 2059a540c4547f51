"""Landing reports: mail import and fetch, the HTTPS receiver, and the durable store.

Nothing here imports textual: these run headless from cron, systemd and the CLI.
"""
