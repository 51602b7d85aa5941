import sys

from smartmail.cli import main

sys.exit(main())
