# Sourced by eng/test.sh. nginx is the load balancer of the multi-instance tests (tests/ResumableUpload.ScaleOut.Tests);
# they run it in the foreground on a free port, never as the system service.
ensure_nginx() {
  if [[ ! -x /usr/sbin/nginx ]] && ! command -v nginx >/dev/null; then
    log "installing nginx (Debian package) for the multi-instance tests"
    apt_install nginx
    # The package starts the system service on port 80; the tests do not use it.
    if command -v service >/dev/null; then as_root service nginx stop >/dev/null 2>&1 || true; fi
  fi
}
