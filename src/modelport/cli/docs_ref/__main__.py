"""``python -m modelport.cli.docs_ref TARGET_DIR``."""

import sys

from modelport.cli.docs_ref import main

sys.exit(main())
