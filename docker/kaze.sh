#!/bin/bash
# The image's entry point.
#   kaze [spring args]        starts the server (no arguments, or arguments that start with -)
#   kaze models pull <name>   fetches model files into $KAZE_MODELS_ROOT (/models) without starting the server
#   kaze healthcheck          exits 0 when /actuator/health/readiness answers 200 (the image's HEALTHCHECK)
#   kaze <command> ...        runs that command instead (sh, java -version, ...)
# JVM flags: KAZE_JVM_FLAGS (the image's defaults) then JAVA_OPTS (yours, e.g. -XX:MaxRAMPercentage=40).
set -euo pipefail
case "${1:-}" in
  healthcheck)
    # bash's /dev/tcp: the image carries no curl
    exec 3<>"/dev/tcp/127.0.0.1/${PORT:-8080}"
    printf 'GET /actuator/health/readiness HTTP/1.0\r\nHost: localhost\r\n\r\n' >&3
    IFS= read -r -t 5 status <&3 || status="no answer within 5 s"
    status=${status%$'\r'}
    case "$status" in
      HTTP/1.?\ 200*) exit 0 ;;
      *) echo "readiness: $status" >&2; exit 1 ;;
    esac
    ;;
  "" | -* | models)
    # word splitting of the flag variables is wanted
    # shellcheck disable=SC2086
    exec java ${KAZE_JVM_FLAGS:-} ${JAVA_OPTS:-} -cp /opt/kaze org.springframework.boot.loader.launch.JarLauncher "$@"
    ;;
  *)
    exec "$@"
    ;;
esac
