"""`python -m newsindex` runs the command line."""

from newsindex.cli import main

main()
