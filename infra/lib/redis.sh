# Redis: use the one on 127.0.0.1:6379, start a throw-away one if none answers (sourced by infra/stack.sh).

redis_ping() {
  local reply
  # (a bare `exec … 2>/dev/null` would silence stderr for the rest of the script)
  { exec 4<>"/dev/tcp/$REDIS_HOST/$REDIS_PORT"; } 2>/dev/null || return 1
  printf 'PING\r\n' >&4
  read -r -t 2 reply <&4 || true
  exec 4>&-
  [[ $reply == *PONG* ]]
}

ensure_redis() {
  step "Redis at $REDIS_HOST:$REDIS_PORT"
  if redis_ping; then
    ok "Redis answers PONG"
    return
  fi
  if port_open "$REDIS_HOST" "$REDIS_PORT"; then
    die "port $REDIS_PORT is taken by $(port_owner "$REDIS_PORT"), which does not answer Redis PING" \
        "stop that process, or free port $REDIS_PORT for Redis"
  fi
  command -v redis-server >/dev/null 2>&1 ||
    die "Redis is not running on $REDIS_HOST:$REDIS_PORT and redis-server is not installed" \
        "install it (Debian: apt-get install redis-server) or start your own Redis 7 on port $REDIS_PORT"
  info "Redis is not running: starting a local one without persistence"
  redis-server --daemonize yes --bind 127.0.0.1 --port "$REDIS_PORT" --save "" --appendonly no \
    --logfile "$LOG_DIR/redis.log" ||
    die "redis-server failed to start" "read $LOG_DIR/redis.log"
  wait_for "Redis on $REDIS_HOST:$REDIS_PORT" 20 redis_ping
  ok "Redis started (it is a system-wide daemon: stack.sh down leaves it running)"
}
