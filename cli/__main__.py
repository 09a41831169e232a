"""`python -m termsvc.cli`: the `termsvc` command, run from a working tree without installing it."""

from termsvc.cli.main import main

main()
