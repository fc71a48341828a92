"""Reporting exports: the event log as Asterisk-style queue_log lines, the call log as CSV.

Modules: ``queue_log`` (pure: stored events -> queue_log lines), ``calls_csv`` (call log
rows -> CSV), ``window`` (the --since/--until options), ``reading`` (the database reads,
in one consistent snapshot) and ``cli`` (``contactcenter export ...``). See
docs/reporting.md for the formats.
"""
