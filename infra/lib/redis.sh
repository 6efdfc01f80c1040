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

# Redis holds cache entries, rate-limit counters and the live fan-out together; all of them carry a TTL. Bounded
# memory with volatile-lru: past the bound the least recently used key with a TTL goes (infra/README.md, "Redis
# memory"); a key written without a TTL is never evicted.
REDIS_MAXMEMORY=${TRACKOPS_REDIS_MAXMEMORY:-256mb}
REDIS_POLICY=volatile-lru

# Applies the bound to a running Redis that has none (a value someone chose is left alone).
ensure_redis_bound() {
  command -v redis-cli >/dev/null 2>&1 || { warn "redis-cli not installed: Redis memory bound not checked"; return 0; }
  local max
  max=$(redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" config get maxmemory 2>/dev/null | sed -n 2p)
  if [[ $max == 0 ]]; then
    redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" config set maxmemory "$REDIS_MAXMEMORY" >/dev/null &&
      redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" config set maxmemory-policy "$REDIS_POLICY" >/dev/null ||
      die "could not bound Redis memory (CONFIG SET refused)" "set maxmemory $REDIS_MAXMEMORY and maxmemory-policy $REDIS_POLICY in your Redis configuration"
    # Kept across restarts only when Redis runs from a configuration file; otherwise the next stack.sh up sets it again.
    redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" config rewrite >/dev/null 2>&1 || true
    info "Redis memory bounded: maxmemory $REDIS_MAXMEMORY, maxmemory-policy $REDIS_POLICY (TRACKOPS_REDIS_MAXMEMORY to choose)"
  fi
}

ensure_redis() {
  step "Redis at $REDIS_HOST:$REDIS_PORT"
  if redis_ping; then
    ensure_redis_bound
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
    --maxmemory "$REDIS_MAXMEMORY" --maxmemory-policy "$REDIS_POLICY" --logfile "$LOG_DIR/redis.log" ||
    die "redis-server failed to start" "read $LOG_DIR/redis.log"
  wait_for "Redis on $REDIS_HOST:$REDIS_PORT" 20 redis_ping
  ok "Redis started (it is a system-wide daemon: stack.sh down leaves it running)"
}
