# Kafka broker (KRaft) and Kafka Connect with Debezium, run from Maven Central jars (sourced by infra/stack.sh).

MAVEN_CENTRAL_URL=${MAVEN_CENTRAL_URL:-https://repo.maven.apache.org/maven2}
DEPENDENCY_PLUGIN=org.apache.maven.plugins:maven-dependency-plugin:3.8.1
WAGON_PLUGIN=org.codehaus.mojo:wagon-maven-plugin:2.0.2
PLUGIN_DIR="$JARS_DIR/plugins"
DEBEZIUM_DIR="$PLUGIN_DIR/debezium-connector-postgres"

# Kafka Connect's JMX metrics (Debezium's included) in Prometheus' format, from the JMX exporter's Java agent.
CONNECT_METRICS_PORT=${CONNECT_METRICS_PORT:-9404}
CONNECT_METRICS_URL="http://$KAFKA_HOST:$CONNECT_METRICS_PORT/metrics"

BROKER_HEAP=${KAFKA_HEAP_OPTS:--Xms128m -Xmx768m}
CONNECT_HEAP=${CONNECT_HEAP_OPTS:--Xms128m -Xmx768m}
JVM_OPTS=(-XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true
  -Dfile.encoding=UTF-8 "-Dkafka.logs.dir=$LOG_DIR")

# Explain a failed Maven run: network (Maven Central unreachable) or something else.
maven_failed() {
  local what=$1 log=$2
  if grep -qiE 'UnknownHost|Could not transfer|Connection (refused|reset|timed out)|Network is unreachable|Connect to .* failed|transfer failed|No route to host|PKIX' "$log"; then
    die "Maven Central is unreachable while fetching $what ($MAVEN_CENTRAL_URL)" \
        "check the network or proxy (Maven reads proxies from ~/.m2/settings.xml); log: $log" \
        "this is needed once: the jars are kept in .kafka/ and later starts do not touch the network"
  fi
  show_log_tail "$log"
  die "Maven failed while fetching $what" "read $log"
}

# Runs a command in the background with a progress line; returns its exit status.
run_with_progress() {
  local what=$1
  shift
  "$@" &
  local pid=$! start=$SECONDS
  while kill -0 "$pid" 2>/dev/null; do
    if [[ -t 1 ]]; then printf '\r  %s … %ds ' "$what" $((SECONDS - start)); fi
    sleep 1
  done
  [[ -t 1 ]] && printf '\r\e[K'
  wait "$pid"
}

# One jar set per throw-away pom in infra/kafka/<set>.pom.xml, copied to .kafka/<set>/.
# The marker holds the pom's hash: editing a pom refetches its set, otherwise nothing is downloaded.
fetch_jar_set() {
  local set=$1 pom="$INFRA/kafka/$1.pom.xml" dest="$JARS_DIR/$1" sum
  sum=$(sha256sum "$pom" | cut -c1-16)
  if [[ -f $dest/.complete && $(<"$dest/.complete") == "$sum" ]]; then
    ok "$set jars cached in .kafka/$set ($(find "$dest" -name '*.jar' | wc -l) jars)"
    return
  fi
  require_cmd mvn "install Maven 3.8+ (Debian: apt-get install maven); it fetches the Kafka jars from Maven Central once"
  local log="$LOG_DIR/mvn-$set.log" start=$SECONDS
  rm -rf "$dest.tmp"
  run_with_progress "downloading the $set jars from Maven Central (once)" \
    mvn -B -f "$pom" "$DEPENDENCY_PLUGIN:copy-dependencies" -DincludeScope=runtime \
    -DoutputDirectory="$dest.tmp" >"$log" 2>&1 || maven_failed "the $set jars" "$log"
  rm -rf "$dest"
  mv "$dest.tmp" "$dest"
  echo "$sum" >"$dest/.complete"
  ok "$set jars fetched into .kafka/$set ($(find "$dest" -name '*.jar' | wc -l) jars, $((SECONDS - start))s)"
}

# Debezium's own plugin archive (the connector and exactly the jars it needs).
# Not copy-dependencies: the 3.5.2.Final parent poms (debezium-build-parent, debezium-bom) are missing
# from Maven Central, so Maven cannot resolve the connector's dependency tree; wagon fetches the one file.
fetch_debezium() {
  local marker="$PLUGIN_DIR/.debezium-$DEBEZIUM_VERSION.complete"
  if [[ -f $marker && -d $DEBEZIUM_DIR ]]; then
    ok "Debezium $DEBEZIUM_VERSION plugin cached in .kafka/plugins ($(find "$DEBEZIUM_DIR" -name '*.jar' | wc -l) jars)"
    return
  fi
  require_cmd mvn "install Maven 3.8+ (Debian: apt-get install maven)"
  local file="debezium-connector-postgres-$DEBEZIUM_VERSION-plugin.tar.gz"
  local remote="io/debezium/debezium-connector-postgres/$DEBEZIUM_VERSION/$file"
  local tmp="$JARS_DIR/plugins.tmp" log="$LOG_DIR/mvn-debezium.log" start=$SECONDS f
  rm -rf "$tmp"
  mkdir -p "$tmp"
  run_with_progress "downloading the Debezium $DEBEZIUM_VERSION plugin from Maven Central (once)" \
    bash -c 'for f in "$3" "$3.sha1"; do
               mvn -B "$1" -Dwagon.url="$2" -Dwagon.fromFile="$f" -Dwagon.toFile="$4/${f##*/}" || exit 1
             done' _ "$WAGON_PLUGIN:download-single" "$MAVEN_CENTRAL_URL" "$remote" "$tmp" >"$log" 2>&1 ||
    maven_failed "the Debezium plugin" "$log"
  [[ $(cut -c1-40 "$tmp/$file.sha1") == $(sha1sum "$tmp/$file" | cut -c1-40) ]] ||
    die "the downloaded $file does not match its .sha1 from Maven Central" "delete .kafka/plugins.tmp and re-run"
  tar xzf "$tmp/$file" -C "$tmp" || die "could not unpack $file" "delete .kafka/plugins.tmp and re-run"
  # Connect always loads org.apache.kafka.* and org.slf4j.* from its own class path: the copies in the
  # archive would never be used and only confuse.
  for f in kafka-clients connect-api slf4j-api; do rm -f "$tmp"/debezium-connector-postgres/"$f"-[0-9]*.jar; done
  mkdir -p "$PLUGIN_DIR"
  rm -rf "$DEBEZIUM_DIR"
  mv "$tmp/debezium-connector-postgres" "$DEBEZIUM_DIR"
  rm -rf "$tmp"
  touch "$marker"
  ok "Debezium $DEBEZIUM_VERSION plugin unpacked into .kafka/plugins ($((SECONDS - start))s)"
}

fetch_jars() {
  step "Kafka $KAFKA_VERSION and Debezium $DEBEZIUM_VERSION jars"
  mkdir -p "$JARS_DIR" "$LOG_DIR"
  fetch_jar_set broker
  fetch_jar_set connect
  fetch_jar_set jmx-exporter
  fetch_debezium
}

render() { # template output key=value…
  local tpl=$1 out=$2 kv
  shift 2
  cp "$tpl" "$out.tmp"
  for kv in "$@"; do sed -i "s|@${kv%%=*}@|${kv#*=}|g" "$out.tmp"; done
  mv "$out.tmp" "$out"
}

kafka_answers() { port_open "$KAFKA_HOST" "$KAFKA_PORT"; }

start_kafka() {
  step "Kafka $KAFKA_VERSION (KRaft, one node) on $BOOTSTRAP"
  local pid p
  if pid=$(running_pid kafka kafka.Kafka); then
    ok "Kafka already running (pid $pid)"
    WATCH_PID=$pid WATCH_LOG="$LOG_DIR/kafka.log" WATCH_OUT="$LOG_DIR/kafka.out" wait_for "Kafka on $BOOTSTRAP" "$WAIT_SECONDS" kafka_answers
    return
  fi
  for p in "$KAFKA_PORT" "$KAFKA_CONTROLLER_PORT"; do
    port_open "$KAFKA_HOST" "$p" && die "port $p (Kafka) is taken by $(port_owner "$p")" \
      "stop that process (another Kafka, e.g. a docker compose stack or another checkout: its stack.sh down), then re-run"
  done
  render "$INFRA/kafka/server.properties" "$CONF_DIR/server.properties" "KAFKA_DATA=$KAFKA_DATA"
  local cp="$JARS_DIR/broker/*"
  if [[ ! -f $KAFKA_DATA/meta.properties ]]; then
    local cluster_id
    mkdir -p "$KAFKA_DATA"
    cluster_id=$("$JAVA" -Dlog4j2.configurationFile="$INFRA/kafka/tools-log4j2.properties" -cp "$cp" kafka.tools.StorageTool random-uuid) ||
      die "kafka.tools.StorageTool random-uuid failed" "check the jars in .kafka/broker (delete the folder to refetch)"
    "$JAVA" -Dlog4j2.configurationFile="$INFRA/kafka/tools-log4j2.properties" -cp "$cp" kafka.tools.StorageTool \
      format -t "$cluster_id" -c "$CONF_DIR/server.properties" --ignore-formatted >"$LOG_DIR/kafka-format.log" 2>&1 ||
      { show_log_tail "$LOG_DIR/kafka-format.log"; die "formatting the Kafka storage in $KAFKA_DATA failed" "run: bash infra/stack.sh reset"; }
    ok "formatted Kafka storage in .stack/kafka-data (cluster id $cluster_id)"
  fi
  # setsid: the broker must not die with the terminal or with Ctrl-C of `npm run up`.
  setsid nohup "$JAVA" $BROKER_HEAP "${JVM_OPTS[@]}" \
    -Dlog4j2.configurationFile="$INFRA/kafka/log4j2.properties" \
    -cp "$cp" kafka.Kafka "$CONF_DIR/server.properties" >"$LOG_DIR/kafka.out" 2>&1 </dev/null &
  pid=$!
  echo "$pid" >"$RUN_DIR/kafka.pid"
  info "started Kafka (pid $pid), log: .stack/logs/kafka.log"
  WATCH_PID=$pid WATCH_LOG="$LOG_DIR/kafka.log" WATCH_OUT="$LOG_DIR/kafka.out" wait_for "Kafka on $BOOTSTRAP" "$WAIT_SECONDS" kafka_answers
  ok "Kafka answers on $BOOTSTRAP"
}

# Compiled once into .stack/classes; recompiled when the source changes.
ensure_topics_tool() {
  local src="$INFRA/kafka/EnsureTopics.java" cls="$STACK_DIR/classes/EnsureTopics.class"
  if [[ ! -f $cls || $src -nt $cls ]]; then
    local javac="${JAVA_HOME:+$JAVA_HOME/bin/}javac"
    command -v "$javac" >/dev/null 2>&1 || die "javac not found: a JDK (not only a JRE) 17+ is needed" "apt-get install openjdk-17-jdk-headless"
    mkdir -p "$STACK_DIR/classes"
    "$javac" -nowarn -cp "$JARS_DIR/broker/*" -d "$STACK_DIR/classes" "$src" || die "compiling $src failed" "see the error above"
  fi
}

# ensure_topics [name:partitions …] — topics.txt plus extra ones.
ensure_topics() {
  ensure_topics_tool
  local out
  out=$("$JAVA" -Dlog4j2.configurationFile="$INFRA/kafka/tools-log4j2.properties" \
    -cp "$JARS_DIR/broker/*:$STACK_DIR/classes" EnsureTopics "$BOOTSTRAP" "$@" 2>&1) ||
    { printf '%s\n' "$out" >&2; die "creating Kafka topics failed" "check that Kafka runs (bash infra/stack.sh status) and read .stack/logs/kafka.log"; }
  printf '%s\n' "$out" | sed 's/^/  /'
}

connect_has_debezium() {
  curl -fsS -m 3 "$CONNECT_URL/connector-plugins" 2>/dev/null | grep -q 'io.debezium.connector.postgresql.PostgresConnector'
}

start_connect() {
  step "Kafka Connect $KAFKA_VERSION with Debezium $DEBEZIUM_VERSION on $CONNECT_URL"
  require_cmd curl "install curl (Debian: apt-get install curl); it talks to the Connect REST API"
  local pid
  if pid=$(running_pid connect ConnectDistributed); then
    ok "Kafka Connect already running (pid $pid)"
    port_open "$KAFKA_HOST" "$CONNECT_METRICS_PORT" ||
      warn "its metrics ($CONNECT_METRICS_URL) do not answer: it was started without the JMX exporter; stop it (kill $pid) and run this again to add it"
  else
    port_open "$KAFKA_HOST" "$CONNECT_PORT" && die "port $CONNECT_PORT (Kafka Connect) is taken by $(port_owner "$CONNECT_PORT")" \
      "stop that process (another Connect worker, e.g. docker compose or another checkout), then re-run"
    port_open "$KAFKA_HOST" "$CONNECT_METRICS_PORT" && die "port $CONNECT_METRICS_PORT (Kafka Connect's metrics) is taken by $(port_owner "$CONNECT_METRICS_PORT")" \
      "stop that process, or choose another port: CONNECT_METRICS_PORT=<port> (and change the kafka-connect job in infra/observability/prometheus.yml)"
    local agent
    agent=$(find "$JARS_DIR/jmx-exporter" -name 'jmx_prometheus_javaagent-*.jar' 2>/dev/null | head -1)
    [[ -n $agent ]] || die "the JMX exporter agent is missing from .kafka/jmx-exporter" "delete .kafka/jmx-exporter and re-run: bash infra/stack.sh up"
    render "$INFRA/kafka/connect-distributed.properties" "$CONF_DIR/connect-distributed.properties" "PLUGIN_PATH=$PLUGIN_DIR"
    # The agent serves the MBeans chosen by connect-jmx-exporter.yml on $CONNECT_METRICS_URL (Prometheus job kafka-connect).
    setsid nohup "$JAVA" $CONNECT_HEAP "${JVM_OPTS[@]}" \
      "-javaagent:$agent=$KAFKA_HOST:$CONNECT_METRICS_PORT:$INFRA/kafka/connect-jmx-exporter.yml" \
      -Dlog4j2.configurationFile="$INFRA/kafka/connect-log4j2.properties" \
      -cp "$JARS_DIR/connect/*" org.apache.kafka.connect.cli.ConnectDistributed \
      "$CONF_DIR/connect-distributed.properties" >"$LOG_DIR/connect.out" 2>&1 </dev/null &
    pid=$!
    echo "$pid" >"$RUN_DIR/connect.pid"
    info "started Kafka Connect (pid $pid), log: .stack/logs/connect.log, metrics: $CONNECT_METRICS_URL"
  fi
  WATCH_PID=$pid WATCH_LOG="$LOG_DIR/connect.log" WATCH_OUT="$LOG_DIR/connect.out" \
    wait_for "Kafka Connect on $CONNECT_URL to list the Debezium PostgresConnector" "$WAIT_SECONDS" connect_has_debezium
  ok "Kafka Connect is up and lists io.debezium.connector.postgresql.PostgresConnector"
}

stop_jvm() { # name marker
  local pid
  if pid=$(running_pid "$1" "$2"); then
    stop_pid "$1" "$pid" 60
  else
    info "$1 is not running"
  fi
  rm -f "$RUN_DIR/$1.pid"
}
