"""``python -m tracelab.console``: serve the console (settings from the environment)."""

from tracelab.console.serve import main

if __name__ == "__main__":
    main()
