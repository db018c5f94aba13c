#!/bin/bash
# Makes the two base images docker/Dockerfile needs without a container registry:
#   kaze-local/debian:bookworm  a minimal Debian root filesystem (mmdebstrap) with what Kaze needs at run time
#   kaze-local/jdk:25           the same plus this machine's JDK 25 at /opt/java/openjdk (where eclipse-temurin has it)
# Images that exist already are kept (delete them with docker rmi to remake them).
# Usage: docker/local-bases.sh [JDK directory]   (default: $KAZE_JDK, then the JDK of ./mvnw's toolchain lookup)
# Needs: root, docker, mmdebstrap, and a Debian mirror (KAZE_DEBIAN_MIRROR, default http://deb.debian.org/debian).
set -euo pipefail
RUNTIME=${KAZE_RUNTIME_BASE:-kaze-local/debian:bookworm}
JDK_IMAGE=${KAZE_JDK_BASE:-kaze-local/jdk:25}
MIRROR=${KAZE_DEBIAN_MIRROR:-http://deb.debian.org/debian}
JDK=${1:-${KAZE_JDK:-}}
if [ -z "$JDK" ]; then
  for d in /usr/lib/jvm/temurin-25-jdk-amd64 /usr/lib/jvm/java-25-openjdk-amd64 "${JAVA_HOME:-/nonexistent}"; do
    if [ -x "$d/bin/jlink" ] && "$d/bin/java" -version 2>&1 | grep -q 'version "25'; then JDK=$d; break; fi
  done
fi

exists() { docker image inspect "$1" >/dev/null 2>&1; }

if ! exists "$RUNTIME"; then
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  # minbase (apt, dpkg, bash, passwd's useradd) plus Kaze's run-time libraries; no docs, man pages or locales
  mmdebstrap --variant=minbase --include=ca-certificates,libgomp1,libpulse0 \
    --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*' \
    --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-include=/usr/share/locale/locale.alias' \
    --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*.bin' \
    bookworm "$work/rootfs.tar" "$MIRROR"
  docker import --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["bash"]' "$work/rootfs.tar" "$RUNTIME"
  rm -rf "$work"
  trap - EXIT
fi

if ! exists "$JDK_IMAGE"; then
  [ -n "$JDK" ] || { echo "no JDK 25 with jlink found: pass its directory, e.g. docker/local-bases.sh /usr/lib/jvm/temurin-25-jdk-amd64" >&2; exit 1; }
  # a copy of the JDK is the build context; links are followed (Debian's JDK packages link lib/security/cacerts to
  # /etc/ssl/certs/java, which the image lacks)
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  cp -rL "$JDK" "$work/jdk"
  docker build -t "$JDK_IMAGE" -f - "$work/jdk" <<DOCKERFILE
FROM $RUNTIME
COPY . /opt/java/openjdk
ENV JAVA_HOME=/opt/java/openjdk PATH=/opt/java/openjdk/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
DOCKERFILE
  rm -rf "$work"
  trap - EXIT
fi
echo "bases: $RUNTIME $JDK_IMAGE"
