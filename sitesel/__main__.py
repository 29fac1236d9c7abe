import sys

from sitesel.cli import main

sys.exit(main())
