"""The command line: the only place errors become messages and exit codes."""
