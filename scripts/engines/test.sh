#!/usr/bin/env bash
# The engine suite (`make test-engines`): start the engines, run tests/engines on them, stop them.
# ENGINES=postgres,spark (default) picks the engines; extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/../.."

engines="${ENGINES:-postgres,spark}"
python="${PYTHON_BIN:-.venv/bin/python}"

cleanup() {
    case ",$engines," in *,postgres,*) scripts/engines/postgres.sh stop || true ;; esac
    case ",$engines," in *,spark,*) scripts/engines/spark.sh stop || true ;; esac
}
trap cleanup EXIT

case ",$engines," in *,postgres,*)
    scripts/engines/postgres.sh start
    eval "$(scripts/engines/postgres.sh env)"
    ;;
esac
case ",$engines," in *,spark,*)
    scripts/engines/spark.sh start
    eval "$(scripts/engines/spark.sh env)"
    ;;
esac

KLAVIYO_ENGINES="$engines" "$python" -m pytest tests/engines --durations=8 "$@"
