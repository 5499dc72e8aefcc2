# Debian's Chromium for the browser tier (tests/browser, Playwright drives it;
# Playwright never downloads a browser). Idempotent: installs only when missing.
# Wire into the Makefile with `include mk/browser.mk` and make `test` depend
# on `browser`.
CHROMIUM_PATH ?= /usr/bin/chromium
export CHROMIUM_PATH
# Never let Playwright fetch its own browsers.
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD := 1

.PHONY: browser test-browser

browser: ## Install Debian's Chromium for the browser tests when it is missing.
	@if [ -x "$(CHROMIUM_PATH)" ]; then echo "chromium: $(CHROMIUM_PATH)"; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	elif command -v sudo >/dev/null && command -v apt-get >/dev/null; then \
		sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	else echo "install Chromium (Debian/Ubuntu: apt-get install chromium) or set CHROMIUM_PATH" >&2; exit 1; fi

test-browser: venv tools console-assets browser ## Browser tests: the console in headless Chromium against the local stack.
	$(PYTEST) tests/browser
