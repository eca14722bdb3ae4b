"""`python -m newsindex` runs the command line."""

from newsindex.cli.commands import main

main()
