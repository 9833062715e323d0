"""`python -m xlmk.cli`: the same as the `xlmk` command."""
from xlmk.cli.main import main

main()
