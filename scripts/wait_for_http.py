"""Wait until a URL answers (any HTTP status), or fail after a number of seconds."""

import sys
import time

import requests

url, seconds = sys.argv[1], float(sys.argv[2])
deadline = time.monotonic() + seconds
while True:
    try:
        requests.get(url, timeout=2)
        break
    except requests.RequestException:
        if time.monotonic() > deadline:
            sys.exit(f"{url} did not answer within {seconds:.0f}s")
        time.sleep(0.1)
