// Small entry for plain-JS callers (scripts/run-tests.mjs) that cannot import TypeScript:
//   node --import tsx engine/history/clickhouse/cli-helper.ts start <dataDir> [--owner-pid PID]
//   node --import tsx engine/history/clickhouse/cli-helper.ts stop|status <dataDir>
// Prints one JSON line on stdout; on failure prints the reason on stderr and exits 1.
import { localClickHouseStatus, startLocalClickHouse, stopLocalClickHouse } from './local-server.ts';

const [command, dataDir, flag, value] = process.argv.slice(2);
const ownerPid = flag === '--owner-pid' ? Number(value) : undefined;

try {
  if (!dataDir || !['start', 'stop', 'status'].includes(command ?? '') || (flag && !Number.isInteger(ownerPid))) {
    throw new Error('usage: cli-helper.ts start <dataDir> [--owner-pid PID] | stop <dataDir> | status <dataDir>');
  }
  const result =
    command === 'start' ? await startLocalClickHouse({ dataDir, ownerPid })
    : command === 'stop' ? { stopped: await stopLocalClickHouse(dataDir) }
    : await localClickHouseStatus(dataDir);
  process.stdout.write(JSON.stringify(result) + '\n');
} catch (err) {
  process.stderr.write(`${(err as Error).message}\n`);
  process.exitCode = 1;
}
