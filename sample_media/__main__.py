"""`python -m pmon.sample_media OUT_DIR [BASE_URL] [YYYY-MM-DD]`: render the demo media and print the manifest."""

from pmon.sample_media.build import main

main()
