// The local supervisor's view of the TrackOps node processes (PM2 process file; scripts/services.sh drives it).
// A process that exits — a crash, a SIGKILL, an out-of-memory kill — is started again with exponential backoff
// (from 250 ms, doubling up to PM2's ceiling of 15 s, back to the start after 30 s of uptime), and never given up
// on. Kubernetes does the same job in production (deploy/): nothing here is needed there.
const path = require('node:path')

const root = path.resolve(__dirname, '..')
const entries = {
  inventory: 'services/inventory/src/main.ts',
  payments: 'services/payments/src/main.ts',
  orders: 'services/orders/src/main.ts',
  relay: 'services/relay/src/main.ts',
  console: 'console/server.ts',
}

module.exports = {
  apps: Object.entries(entries).map(([name, script]) => ({
    name,
    script: path.join(root, script),
    cwd: root,
    // Node 24 from the `node` devDependency, whatever node runs PM2 itself.
    interpreter: path.join(root, 'node_modules/.bin/node'),
    node_args: ['--env-file-if-exists=.env'],
    autorestart: true,
    exp_backoff_restart_delay: 250,
    max_restarts: 1_000_000,
    min_uptime: 5_000,
    // SIGINT first (the services drain and close), SIGKILL after this long.
    kill_timeout: 20_000,
    pid_file: path.join(root, `.stack/run/${name}.pid`),
    out_file: path.join(root, `.stack/logs/${name}.log`),
    error_file: path.join(root, `.stack/logs/${name}.log`),
    merge_logs: true,
    time: false,
  })),
}
