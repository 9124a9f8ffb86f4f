import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startDaemon } from './daemon.ts';
import { freePort } from './free-port.ts';
import { writeServerCertificates } from './openssl-pki.ts';

/** Where Debian's `rsyslog` package installs the daemon (not on a non-root PATH). */
const RSYSLOGD = process.env.COFFER_TEST_RSYSLOGD ?? '/usr/sbin/rsyslogd';

/** A real rsyslog collector for tests: UDP, TCP and TCP+TLS (RFC 5425) inputs on free loopback ports. */
export interface TestRsyslog {
  readonly udpPort: number;
  readonly tcpPort: number;
  readonly tlsPort: number;
  /** PEM of the CA that signed the collector's certificate (for 127.0.0.1 and localhost). */
  readonly caPem: string;
  /** PEM of a CA that signed nothing here: a client trusting only it must refuse the collector. */
  readonly otherCaPem: string;
  /** The messages received on one input, one per line, as RFC 5424 (`RSYSLOG_SyslogProtocol23Format`). */
  received(input: 'udp' | 'tcp' | 'tls'): string[];
  stop(): Promise<void>;
}

function rsyslogConf(dir: string, ports: { udp: number; tcp: number; tls: number }): string {
  const output = (name: string) =>
    `ruleset(name="${name}") { action(type="omfile" file="${dir}/${name}.log" template="RSYSLOG_SyslogProtocol23Format") }`;
  return [
    `global(workDirectory="${dir}/work" maxMessageSize="256k"`,
    `  defaultNetstreamDriverCAFile="${dir}/ca.crt" defaultNetstreamDriverCertFile="${dir}/server.crt"`,
    `  defaultNetstreamDriverKeyFile="${dir}/server.key")`,
    'module(load="imudp")',
    'module(load="imtcp")',
    output('udp'),
    output('tcp'),
    output('tls'),
    `input(type="imudp" address="127.0.0.1" port="${ports.udp}" ruleset="udp")`,
    `input(type="imtcp" address="127.0.0.1" port="${ports.tcp}" ruleset="tcp")`,
    // RFC 5425: TLS through the gtls network stream driver; clients are not asked for certificates.
    `input(type="imtcp" address="127.0.0.1" port="${ports.tls}" ruleset="tls" streamDriver.name="gtls"`,
    '  streamDriver.mode="1" streamDriver.authMode="anon")',
    '',
  ].join('\n');
}

/** Whether a socket is bound at 127.0.0.1:`port` (read from /proc: no tool needed, UDP included). */
function bound(protocol: 'tcp' | 'udp', port: number): boolean {
  const local = `0100007F:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  return readFileSync(`/proc/net/${protocol}`, 'utf8')
    .split('\n')
    .some((line) => line.trim().split(/\s+/)[1] === local);
}

/** Starts `rsyslogd -n` on free loopback ports and waits until every input accepts. */
export async function startRsyslog(): Promise<TestRsyslog> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'coffer-rsyslog-'));
  mkdirSync(path.join(dir, 'work'));
  writeServerCertificates(dir, { caName: 'coffer test syslog CA', key: 'rsa' });
  const ports = { udp: await freePort(), tcp: await freePort(), tls: await freePort() };
  writeFileSync(path.join(dir, 'rsyslog.conf'), rsyslogConf(dir, ports));
  const daemon = await startDaemon({
    name: 'rsyslogd',
    command: RSYSLOGD,
    args: ['-n', '-f', path.join(dir, 'rsyslog.conf'), '-i', path.join(dir, 'rsyslogd.pid')],
    dir,
    ready: () => [ports.tcp, ports.tls].every((p) => bound('tcp', p)) && bound('udp', ports.udp),
  });
  const read = (name: string) => {
    try {
      return readFileSync(path.join(dir, `${name}.log`), 'utf8')
        .split('\n')
        .filter(Boolean);
    } catch {
      return [];
    }
  };
  return {
    udpPort: ports.udp,
    tcpPort: ports.tcp,
    tlsPort: ports.tls,
    caPem: readFileSync(path.join(dir, 'ca.crt'), 'utf8'),
    otherCaPem: readFileSync(path.join(dir, 'other.crt'), 'utf8'),
    received: read,
    stop: daemon.stop,
  };
}
