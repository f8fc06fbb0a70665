"""`python -m fincommerce.cli`: the same as the `fincommerce` command."""
import sys

from fincommerce.cli import main

sys.exit(main())
