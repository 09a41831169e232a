"""The `termsvc` command (typer). Installed as `termsvc.cli`. Thin: it parses flags, calls services and
turns their errors into messages and exit codes."""
