/**
 * A sysfs tree for unit tests laid out like the one captured in the VM tier
 * (fixtures/sysfs-iscsi-debian12.txt): block/<sdX> is a link into
 * devices/platform/host<N>/session<N>/target<N>:0:0/<N>:0:0:<lun>/block/<sdX>,
 * whose device link leads back to the H:C:T:L directory (wwid, vpd_pg80,
 * state, delete); class/iscsi_session/session<N> holds targetname and state.
 */
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

interface FakeDisk {
  name: string;
  lun: number;
  wwid?: string;
  serial?: string;
  /** major:minor */
  dev?: string;
}

export interface FakeSession {
  sid: number;
  iqn: string;
  state?: string;
  disks: FakeDisk[];
}

function vpdPg80(serial: string): Buffer {
  const body = Buffer.from(`${serial}\0`, 'latin1');
  const head = Buffer.from([0, 0x80, 0, 0]);
  head.writeUInt16BE(body.length, 2);
  return Buffer.concat([head, body]);
}

export function fakeIscsiSysfs(root: string, sessions: readonly FakeSession[]): void {
  mkdirSync(join(root, 'block'), { recursive: true });
  for (const s of sessions) {
    const sessionDir = join(root, 'devices/platform', `host${s.sid}`, `session${s.sid}`);
    const cls = join(root, 'class/iscsi_session', `session${s.sid}`);
    mkdirSync(cls, { recursive: true });
    writeFileSync(join(cls, 'targetname'), `${s.iqn}\n`);
    writeFileSync(join(cls, 'state'), `${s.state ?? 'LOGGED_IN'}\n`);
    for (const d of s.disks) {
      const hctl = join(sessionDir, `target${s.sid}:0:0`, `${s.sid}:0:0:${d.lun}`);
      const blockDir = join(hctl, 'block', d.name);
      mkdirSync(join(blockDir, 'holders'), { recursive: true });
      writeFileSync(join(hctl, 'state'), 'running\n');
      writeFileSync(join(hctl, 'delete'), '');
      if (d.wwid) writeFileSync(join(hctl, 'wwid'), `${d.wwid}\n`);
      if (d.serial) writeFileSync(join(hctl, 'vpd_pg80'), vpdPg80(d.serial));
      if (d.dev) writeFileSync(join(blockDir, 'dev'), `${d.dev}\n`);
      symlinkSync('../..', join(blockDir, 'device'));
      symlinkSync(blockDir, join(root, 'block', d.name));
    }
  }
}
