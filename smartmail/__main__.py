import sys

from smartmail.entry import main

sys.exit(main())
