#!/usr/bin/env bash
# Local Spark for the engine suite and for trying the project on Spark.
#
#   scripts/engines/spark.sh start   # install Java 17 if missing; prepare .engines/spark/
#   scripts/engines/spark.sh env     # print `export SPARK_STATE_DIR=...` for dbt and the loader
#   scripts/engines/spark.sh stop    # delete the local warehouse, metastore and logs
#
# There is no server: dbt-spark's `session` method and the loader start Spark inside their own
# process (pyspark, from requirements-engines.lock) with the `spark` output of profiles.yml. Its
# warehouse folder, Derby metastore (metastore_db/) and derby.log go to SPARK_STATE_DIR
# (.engines/spark, ignored by git). The Derby metastore admits one process at a time: run dbt and
# the loader one after the other, not together.
set -euo pipefail

root="$(cd "$(dirname "$0")/../.." && pwd)"
state="$root/.engines/spark"

die() { echo "spark.sh: $*" >&2; exit 1; }

java_major() {
    java -version 2>&1 | awk -F'"' '/version/ {split($2, v, "."); print v[1]; exit}'
}

install_java() {
    if command -v java >/dev/null 2>&1 && [ "$(java_major)" -ge 17 ] 2>/dev/null; then
        return 0
    fi
    [ "$(id -u)" -eq 0 ] || die "Java 17 is missing; run as root or: apt-get install openjdk-17-jre-headless"
    echo "spark.sh: installing Debian's openjdk-17-jre-headless" >&2
    export DEBIAN_FRONTEND=noninteractive
    # The JRE's post-install step expects the man page folders that slim images leave out.
    mkdir -p /usr/share/man/man1
    apt-get update -qq >/dev/null
    apt-get install -y -qq --no-install-recommends openjdk-17-jre-headless >/dev/null
    command -v java >/dev/null 2>&1 || die "apt-get installed Java but no java is on PATH"
}

case "${1:-}" in
    start)
        install_java
        mkdir -p "$state"
        echo "spark.sh: Java $(java_major); Spark state in $state" >&2
        ;;
    env)
        echo "export SPARK_STATE_DIR=$state"
        ;;
    stop)
        rm -rf "$state"
        ;;
    *) die "usage: $0 start|env|stop" ;;
esac
