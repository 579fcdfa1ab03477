"""`python -m llmcost` runs the command line."""

from llmcost.cli import main

main()
