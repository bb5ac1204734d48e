#!/usr/bin/env bash
# A real WordPress on 127.0.0.1 for the publishing tests, from Debian's packages.
#
# Idempotent: installs the packages if missing, creates the database, writes
# the site's config, installs WordPress headlessly (PHP, no wp-cli in Debian),
# starts `php -S` unless it already answers, and creates a fresh application
# password. Prints one JSON object: {"url", "username", "application_password"}.
#
#   WP_PORT (8089)  WP_DB (wp_test)  WP_DB_HOST (127.0.0.1)  WP_STATE_DIR (/tmp/aigc-wordpress)
#
# Exit status 3: the Debian packages could not be installed (tests skip then).
set -euo pipefail

PORT="${WP_PORT:-8089}"
DB="${WP_DB:-wp_test}"
DB_HOST="${WP_DB_HOST:-127.0.0.1}"
STATE="${WP_STATE_DIR:-/tmp/aigc-wordpress}"
HERE="$(cd "$(dirname "$0")" && pwd)"
URL="http://127.0.0.1:${PORT}"
mkdir -p "$STATE"

if [ ! -f /usr/share/wordpress/wp-settings.php ] || ! php -m 2>/dev/null | grep -qi '^mysqli$'; then
  pkgs="wordpress php-cli php-mysql php-curl php-xml php-mbstring"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q --no-install-recommends $pkgs >"$STATE/apt.log" 2>&1 \
    || { apt-get update -q >>"$STATE/apt.log" 2>&1 \
         && apt-get install -y -q --no-install-recommends $pkgs >>"$STATE/apt.log" 2>&1; } \
    || { echo "apt-get could not install $pkgs; see $STATE/apt.log" >&2; exit 3; }
fi

mysql -h "$DB_HOST" -uroot -e "CREATE DATABASE IF NOT EXISTS \`$DB\` CHARACTER SET utf8mb4"

# Debian's wp-config.php reads /etc/wordpress/config-<host>.php.
cat >/etc/wordpress/config-127.0.0.1.php <<PHP
<?php
define('DB_NAME', '$DB');
define('DB_USER', 'root');
define('DB_PASSWORD', '');
define('DB_HOST', '$DB_HOST');
define('WP_HOME', '$URL');
define('WP_SITEURL', '$URL');
// Application passwords need HTTPS or a local environment.
define('WP_ENVIRONMENT_TYPE', 'local');
define('DISABLE_WP_CRON', true);
define('AUTOMATIC_UPDATER_DISABLED', true);
define('WP_HTTP_BLOCK_EXTERNAL', true);
PHP

if ! curl -fsS -o /dev/null "$URL/?rest_route=/" 2>/dev/null; then
  # Several workers: the tests' client and WordPress's own loopback requests overlap.
  PHP_CLI_SERVER_WORKERS=4 nohup php -S "127.0.0.1:${PORT}" -t /usr/share/wordpress \
    >"$STATE/server.log" 2>&1 &
  echo $! >"$STATE/server.pid"
  for _ in $(seq 1 50); do
    curl -fsS -o /dev/null "$URL/wp-login.php" 2>/dev/null && break
    sleep 0.2
  done
fi

HTTP_HOST="127.0.0.1:${PORT}" php "$HERE/install.php"
