#!/usr/bin/env bash
echo "demo: not assembled yet" >&2
exit 1
