import { inspect } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { Busy, FailedPrecondition, InvalidArgument, NotFound, Unavailable } from '../../../src/errors.js';
import { createLogger } from '../../../src/log.js';
import { unitSerial } from '../../../src/iscsi-target/iqn.js';
import { LioTarget } from '../../../src/iscsi-target/lio.js';
import type { TargetSpec } from '../../../src/iscsi-target/types.js';
import { FakeConfigfs } from './fake-configfs.js';

const IQN = 'iqn.2024-01.org.example.csi-lvm-iscsi:csivg:vol-a';
const INIT = 'iqn.2024-01.test.vm:guest';
const OTHER = 'iqn.2024-01.test.vm:other';
const BS = 'core/iblock_0/csivg-vol--a';
const TPG = `iscsi/${IQN}/tpgt_1`;
const SERIAL = unitSerial('csivg', 'vol-a');
const PASSWORD = 'secret-Passw0rd-xyz';
const MUTUAL = 'mutual-Secr3t-abc';

const spec = (over: Partial<TargetSpec> = {}): TargetSpec => ({
  iqn: IQN,
  volumeKey: 'csivg/vol-a',
  devicePath: '/dev/csivg/vol-a',
  serial: SERIAL,
  portals: [{ address: '127.0.0.1', port: 3260 }],
  ...over,
});

let fakes: FakeConfigfs[] = [];
afterEach(() => {
  for (const f of fakes) f.cleanup();
  fakes = [];
});

function setup(o: { perAclAuth?: boolean } = {}) {
  const fake = new FakeConfigfs(o);
  fakes.push(fake);
  const lines: string[] = [];
  const logger = createLogger('debug', { write: (s: string) => void lines.push(s) });
  const lio = new LioTarget({
    root: fake.root,
    sysBlockRoot: fake.sysBlock,
    fs: fake,
    logger,
    retry: { attempts: 3, baseDelayMs: 1, maxDelayMs: 2 },
  });
  return { fake, lio, lines };
}

const CREATE_LOG = [
  `mkdir core/iblock_0`,
  `mkdir ${BS}`,
  `write ${BS}/control udev_path=/dev/csivg/vol-a`,
  `write ${BS}/udev_path /dev/csivg/vol-a`,
  `write ${BS}/alias ${IQN}`,
  `write ${BS}/wwn/vpd_unit_serial ${SERIAL}`,
  `write ${BS}/enable 1`,
  `write ${BS}/attrib/emulate_tpu 1`,
  `write ${BS}/attrib/emulate_tpws 1`,
  `mkdir iscsi`,
  `mkdir iscsi/${IQN}`,
  `mkdir ${TPG}`,
  `write ${TPG}/attrib/authentication 0`,
  `write ${TPG}/attrib/demo_mode_discovery 0`,
  `write ${TPG}/param/MaxRecvDataSegmentLength 262144`,
  `write ${TPG}/param/MaxBurstLength 1048576`,
  `write ${TPG}/param/FirstBurstLength 262144`,
  `write ${TPG}/param/InitialR2T No`,
  `mkdir ${TPG}/lun/lun_0`,
  `symlink ${TPG}/lun/lun_0/csivg-vol--a -> ${BS}`,
  `mkdir ${TPG}/np/127.0.0.1:3260`,
  `write ${TPG}/enable 1`,
];

describe('LioTarget.ensureTarget', () => {
  it('creates backstore, target, TPG, LUN and portal in that order, unit serial before enable, emulate_tpu/tpws after', async () => {
    const { fake, lio } = setup();
    await lio.ensureTarget(spec());
    expect(fake.log).toEqual(CREATE_LOG);
    expect(fake.oopsed).toBe(false);
    expect(fake.content(`${BS}/wwn/vpd_unit_serial`)).toBe(`T10 VPD Unit Serial Number: ${SERIAL}\n`);
    expect(fake.content(`${TPG}/attrib/generate_node_acls`)).toBe('0\n');
    expect(fake.content(`${TPG}/attrib/demo_mode_write_protect`)).toBe('1\n');
    // discovery lists the target only to initiators with an ACL
    expect(fake.content(`${TPG}/attrib/demo_mode_discovery`)).toBe('0\n');
  });

  it('offers large transfers at login: 256 KiB data segments, 1 MiB bursts, unsolicited first burst, before the TPG is enabled', async () => {
    const { fake, lio } = setup();
    await lio.ensureTarget(spec());
    const param = (k: string) => fake.content(`${TPG}/param/${k}`);
    expect([
      param('MaxRecvDataSegmentLength'),
      param('MaxBurstLength'),
      param('FirstBurstLength'),
      param('InitialR2T'),
      param('ImmediateData'),
    ]).toEqual(['262144\n', '1048576\n', '262144\n', 'No\n', 'Yes\n']);
    // MaxBurstLength before FirstBurstLength (which must not exceed it), all before enable
    const at = (line: string) => fake.log.indexOf(line);
    expect(at(`write ${TPG}/param/MaxBurstLength 1048576`)).toBeLessThan(
      at(`write ${TPG}/param/FirstBurstLength 262144`),
    );
    expect(at(`write ${TPG}/param/InitialR2T No`)).toBeLessThan(at(`write ${TPG}/enable 1`));
  });

  it('brings an existing target (made by an older version) to the same login keys, touching nothing else', async () => {
    const { fake, lio } = setup();
    await lio.ensureTarget(spec());
    await fake.write(fake.abs(`${TPG}/param/MaxRecvDataSegmentLength`), '8192');
    await fake.write(fake.abs(`${TPG}/param/InitialR2T`), 'Yes');
    fake.log.length = 0;
    await lio.ensureTarget(spec());
    expect(fake.log).toEqual([
      `write ${TPG}/param/MaxRecvDataSegmentLength 262144`,
      `write ${TPG}/param/InitialR2T No`,
    ]);
  });

  it('is idempotent: a second call changes nothing', async () => {
    const { fake, lio } = setup();
    await lio.ensureTarget(spec());
    const before = fake.tree();
    fake.log.length = 0;
    await lio.ensureTarget(spec());
    expect(fake.log).toEqual([]);
    expect(fake.tree()).toEqual(before);
  });

  it('completes a half-made export (crash after the backstore was configured but not enabled)', async () => {
    const { fake, lio } = setup();
    await fake.mkdir(fake.abs('core/iblock_0'));
    await fake.mkdir(fake.abs(BS));
    await fake.write(fake.abs(`${BS}/control`), 'udev_path=/dev/csivg/vol-a');
    await fake.write(fake.abs(`${BS}/udev_path`), '/dev/csivg/vol-a');
    fake.log.length = 0;
    await lio.ensureTarget(spec());
    expect(fake.log.slice(0, 5)).toEqual([
      `write ${BS}/alias ${IQN}`,
      `write ${BS}/wwn/vpd_unit_serial ${SERIAL}`,
      `write ${BS}/enable 1`,
      `write ${BS}/attrib/emulate_tpu 1`,
      `write ${BS}/attrib/emulate_tpws 1`,
    ]);
    expect(fake.log).toContain(`write ${TPG}/enable 1`);
  });

  it('completes a TPG made just before a crash: authentication goes to 0 on the retry', async () => {
    const { fake, lio } = setup();
    await fake.mkdir(fake.abs('iscsi'));
    await fake.mkdir(fake.abs(`iscsi/${IQN}`));
    await fake.mkdir(fake.abs(TPG));
    await lio.ensureTarget(spec());
    expect(fake.content(`${TPG}/attrib/authentication`)).toBe('0\n');
  });

  it('rewrites control and udev_path when only control made it before a crash', async () => {
    const { fake, lio } = setup();
    await fake.mkdir(fake.abs('core/iblock_0'));
    await fake.mkdir(fake.abs(BS));
    await fake.write(fake.abs(`${BS}/control`), 'udev_path=/dev/wrong/one');
    fake.log.length = 0;
    await lio.ensureTarget(spec());
    expect(fake.log.slice(0, 2)).toEqual([
      `write ${BS}/control udev_path=/dev/csivg/vol-a`,
      `write ${BS}/udev_path /dev/csivg/vol-a`,
    ]);
    expect((await lio.listTargets())[0]?.devicePath).toBe('/dev/csivg/vol-a');
  });

  it('completes a target whose LUN link is missing without touching the rest', async () => {
    const { fake, lio } = setup();
    await lio.ensureTarget(spec());
    await fake.unlink(fake.abs(`${TPG}/lun/lun_0/csivg-vol--a`));
    fake.log.length = 0;
    await lio.ensureTarget(spec());
    expect(fake.log).toEqual([`symlink ${TPG}/lun/lun_0/csivg-vol--a -> ${BS}`]);
  });

  it('reconciles portals by difference', async () => {
    const { fake, lio } = setup();
    await lio.ensureTarget(spec());
    fake.log.length = 0;
    await lio.ensureTarget(
      spec({
        portals: [
          { address: '10.0.0.5', port: 3260 },
          { address: 'fd00::5', port: 3260 },
        ],
      }),
    );
    expect(fake.log).toEqual([
      `mkdir ${TPG}/np/10.0.0.5:3260`,
      `mkdir ${TPG}/np/[fd00::5]:3260`,
      `rmdir ${TPG}/np/127.0.0.1:3260`,
    ]);
  });

  it('exports read-only: backstore opened readonly, mapped LUNs write-protected', async () => {
    const { fake, lio } = setup();
    await lio.ensureTarget(spec({ readOnly: true }));
    expect(fake.log.slice(2, 5)).toEqual([
      `write ${BS}/control udev_path=/dev/csivg/vol-a`,
      `write ${BS}/udev_path /dev/csivg/vol-a`,
      `write ${BS}/control readonly=1`,
    ]);
    expect(fake.content(`${TPG}/attrib/prod_mode_write_protect`)).toBe('1\n');
    await lio.allowInitiator(IQN, INIT);
    expect(fake.content(`${TPG}/acls/${INIT}/lun_0/write_protect`)).toBe('1\n');
    const [state] = await lio.listTargets();
    expect(state?.readOnly).toBe(true);
    await expect(lio.ensureTarget(spec({ readOnly: false }))).rejects.toBeInstanceOf(FailedPrecondition);
  });

  it('refuses another device under the same volume key, and a serial change while exported', async () => {
    const { lio } = setup();
    await lio.ensureTarget(spec());
    await expect(lio.ensureTarget(spec({ devicePath: '/dev/other/lv' }))).rejects.toBeInstanceOf(FailedPrecondition);
    await expect(lio.ensureTarget(spec({ serial: 'ffffffffffffffffffffffffffffffff' }))).rejects.toThrow(/unit serial/);
  });

  it('hasTarget: true for a target made, false for another IQN and after removal, with nothing written', async () => {
    const { fake, lio } = setup();
    expect(await lio.hasTarget(IQN)).toBe(false);
    await lio.ensureTarget(spec());
    fake.log.length = 0;
    expect(await lio.hasTarget(IQN)).toBe(true);
    expect(await lio.hasTarget(`${IQN}x`)).toBe(false);
    expect(fake.log).toEqual([]);
    await lio.removeTarget(IQN);
    expect(await lio.hasTarget(IQN)).toBe(false);
    await expect(lio.hasTarget('not an iqn')).rejects.toBeInstanceOf(InvalidArgument);
  });

  it('refuses a second backstore on the same target', async () => {
    const { lio } = setup();
    await lio.ensureTarget(spec());
    await expect(lio.ensureTarget(spec({ volumeKey: 'csivg/vol-b', devicePath: '/dev/csivg/vol-b' }))).rejects.toThrow(
      /already exports another backstore/,
    );
  });

  it('validates its input', async () => {
    const { lio } = setup();
    await expect(lio.ensureTarget(spec({ iqn: 'IQN.bad' }))).rejects.toBeInstanceOf(InvalidArgument);
    await expect(lio.ensureTarget(spec({ volumeKey: 'novg' }))).rejects.toBeInstanceOf(InvalidArgument);
    await expect(lio.ensureTarget(spec({ devicePath: 'relative' }))).rejects.toBeInstanceOf(InvalidArgument);
    await expect(lio.ensureTarget(spec({ portals: [] }))).rejects.toBeInstanceOf(InvalidArgument);
    await expect(lio.ensureTarget(spec({ portals: [{ address: '127.0.0.1', port: 0 }] }))).rejects.toBeInstanceOf(
      InvalidArgument,
    );
    await expect(lio.ensureTarget(spec({ serial: 'has space' }))).rejects.toBeInstanceOf(InvalidArgument);
  });

  it('retries EBUSY on a configfs write, and answers Busy when the device stays busy', async () => {
    const { fake, lio } = setup();
    fake.inject('write', `${TPG}/enable`, 'EBUSY', 2);
    await lio.ensureTarget(spec());
    expect(fake.content(`${TPG}/enable`)).toBe('1\n');

    const second = setup();
    second.fake.inject('write', `${BS}/enable`, 'EBUSY', 10);
    await expect(second.lio.ensureTarget(spec())).rejects.toBeInstanceOf(Busy);
  });

  it('answers Unavailable when configfs is not there', async () => {
    const lio = new LioTarget({ root: '/nonexistent/target' });
    await expect(lio.ensureTarget(spec())).rejects.toBeInstanceOf(Unavailable);
  });

  it('keeps going when the device has no discard support', async () => {
    const { fake, lio, lines } = setup();
    fake.inject('write', `${BS}/attrib/emulate_tpu`, 'ENOSYS');
    await lio.ensureTarget(spec());
    expect(fake.content(`${TPG}/enable`)).toBe('1\n');
    expect(lines.join('')).toMatch(/does not support discard/);
  });
});

describe('LioTarget initiators', () => {
  it('allows an initiator without CHAP: ACL, per-ACL authentication 0, mapped LUN link; TPG stays open', async () => {
    const { fake, lio } = setup();
    await lio.ensureTarget(spec());
    fake.log.length = 0;
    await lio.allowInitiator(IQN, INIT);
    const acl = `${TPG}/acls/${INIT}`;
    expect(fake.log).toEqual([
      `mkdir ${acl}`,
      `write ${acl}/attrib/authentication 0`,
      `mkdir ${acl}/lun_0`,
      `symlink ${acl}/lun_0/link -> ${TPG}/lun/lun_0`,
    ]);
    expect(fake.content(`${TPG}/attrib/authentication`)).toBe('0\n');
    fake.log.length = 0;
    await lio.allowInitiator(IQN, INIT);
    expect(fake.log).toEqual([]);
  });

  it('with CHAP: authentication is demanded before the credentials and the LUN appear; same credentials change nothing', async () => {
    const { fake, lio } = setup();
    await lio.ensureTarget(spec());
    fake.log.length = 0;
    await lio.allowInitiator(IQN, INIT, {
      userid: 'user1',
      password: PASSWORD,
      mutualUserid: 'tgt1',
      mutualPassword: MUTUAL,
    });
    const acl = `${TPG}/acls/${INIT}`;
    expect(fake.log).toEqual([
      `mkdir ${acl}`,
      `write ${acl}/attrib/authentication 1`,
      `write ${TPG}/attrib/authentication 1`,
      `write ${acl}/auth/userid user1`,
      `write ${acl}/auth/password ${PASSWORD}`,
      `write ${acl}/auth/userid_mutual tgt1`,
      `write ${acl}/auth/password_mutual ${MUTUAL}`,
      `mkdir ${acl}/lun_0`,
      `symlink ${acl}/lun_0/link -> ${TPG}/lun/lun_0`,
    ]);
    fake.log.length = 0;
    await lio.allowInitiator(IQN, INIT, {
      userid: 'user1',
      password: PASSWORD,
      mutualUserid: 'tgt1',
      mutualPassword: MUTUAL,
    });
    expect(fake.log).toEqual([]);
  });

  it('updates changed credentials only, and clears CHAP (NULL) when allowed without it', async () => {
    const { fake, lio } = setup();
    await lio.ensureTarget(spec());
    await lio.allowInitiator(IQN, INIT, {
      userid: 'user1',
      password: PASSWORD,
      mutualUserid: 'tgt1',
      mutualPassword: MUTUAL,
    });
    fake.log.length = 0;
    await lio.allowInitiator(IQN, INIT, { userid: 'user1', password: `${PASSWORD}2` });
    const acl = `${TPG}/acls/${INIT}`;
    expect(fake.log).toEqual([
      `write ${acl}/auth/password ${PASSWORD}2`,
      `write ${acl}/auth/userid_mutual NULL`,
      `write ${acl}/auth/password_mutual NULL`,
    ]);
    fake.log.length = 0;
    await lio.allowInitiator(IQN, INIT);
    expect(fake.log).toEqual([
      `write ${acl}/attrib/authentication 0`,
      `write ${acl}/auth/userid NULL`,
      `write ${acl}/auth/password NULL`,
      `write ${TPG}/attrib/authentication 0`,
    ]);
    const [state] = await lio.listTargets();
    expect(state?.authRequired).toBe(false);
    expect(state?.initiators).toEqual([{ iqn: INIT, chapUserid: undefined, mutualChapUserid: undefined, sessions: 0 }]);
  });

  it('keeps the TPG demanding CHAP while any initiator has it; per-ACL settings let others in without', async () => {
    const { fake, lio } = setup();
    await lio.ensureTarget(spec());
    await lio.allowInitiator(IQN, INIT, { userid: 'user1', password: PASSWORD });
    await lio.allowInitiator(IQN, OTHER);
    expect(fake.content(`${TPG}/attrib/authentication`)).toBe('1\n');
    expect(fake.content(`${TPG}/acls/${OTHER}/attrib/authentication`)).toBe('0\n');
    await lio.denyInitiator(IQN, INIT);
    expect(fake.content(`${TPG}/attrib/authentication`)).toBe('0\n');
  });

  it('works on kernels without per-ACL authentication (TPG-wide only) and warns about the mix', async () => {
    const { fake, lio, lines } = setup({ perAclAuth: false });
    await lio.ensureTarget(spec());
    await lio.allowInitiator(IQN, INIT, { userid: 'user1', password: PASSWORD });
    expect(fake.content(`${TPG}/attrib/authentication`)).toBe('1\n');
    await lio.allowInitiator(IQN, OTHER);
    expect(lines.join('')).toMatch(/no per-ACL authentication/);
  });

  it('NotFound for a missing target, InvalidArgument for bad names and credentials', async () => {
    const { lio } = setup();
    await expect(lio.allowInitiator(IQN, INIT)).rejects.toBeInstanceOf(NotFound);
    await lio.ensureTarget(spec());
    await expect(lio.allowInitiator(IQN, 'ALL')).rejects.toBeInstanceOf(InvalidArgument);
    await expect(lio.allowInitiator(IQN, 'iqn.2024-01.Upper:case')).rejects.toBeInstanceOf(InvalidArgument);
    await expect(lio.allowInitiator(IQN, INIT, { userid: 'u', password: '' })).rejects.toBeInstanceOf(InvalidArgument);
    await expect(lio.allowInitiator(IQN, INIT, { userid: 'u', password: 'p\nq' })).rejects.toBeInstanceOf(
      InvalidArgument,
    );
    await expect(lio.allowInitiator(IQN, INIT, { userid: 'u', password: 'NULLpassword' })).rejects.toBeInstanceOf(
      InvalidArgument,
    );
    await expect(
      lio.allowInitiator(IQN, INIT, { userid: 'u', password: PASSWORD, mutualUserid: 'm' }),
    ).rejects.toBeInstanceOf(InvalidArgument);
    await expect(
      lio.allowInitiator(IQN, INIT, { userid: 'u', password: PASSWORD, mutualUserid: 'm', mutualPassword: PASSWORD }),
    ).rejects.toBeInstanceOf(InvalidArgument);
  });

  it('denyInitiator removes mapped LUN link, its dir, then the ACL (which ends the session); OK when gone', async () => {
    const { fake, lio } = setup();
    await lio.ensureTarget(spec());
    await lio.allowInitiator(IQN, INIT);
    fake.login(IQN, INIT);
    expect((await lio.listTargets())[0]?.initiators[0]?.sessions).toBe(1);
    fake.log.length = 0;
    await lio.denyInitiator(IQN, INIT);
    const acl = `${TPG}/acls/${INIT}`;
    expect(fake.log).toEqual([`unlink ${acl}/lun_0/link`, `rmdir ${acl}/lun_0`, `rmdir ${acl}`]);
    expect((await lio.listTargets())[0]?.initiators).toEqual([]);
    fake.log.length = 0;
    await lio.denyInitiator(IQN, INIT);
    await lio.denyInitiator('iqn.2024-01.org.example:gone', INIT);
    expect(fake.log).toEqual([]);
  });
});

describe('LioTarget.removeTarget', () => {
  it('tears down in the reverse order of creation and leaves only the (empty) HBA', async () => {
    const { fake, lio } = setup();
    await lio.ensureTarget(spec());
    await lio.allowInitiator(IQN, INIT, { userid: 'user1', password: PASSWORD });
    fake.log.length = 0;
    await lio.removeTarget(IQN);
    const acl = `${TPG}/acls/${INIT}`;
    expect(fake.log).toEqual([
      `write ${TPG}/enable 0`,
      `unlink ${acl}/lun_0/link`,
      `rmdir ${acl}/lun_0`,
      `rmdir ${acl}`,
      `rmdir ${TPG}/np/127.0.0.1:3260`,
      `unlink ${TPG}/lun/lun_0/csivg-vol--a`,
      `rmdir ${TPG}/lun/lun_0`,
      `rmdir ${TPG}`,
      `rmdir iscsi/${IQN}`,
      `rmdir ${BS}`,
    ]);
    expect(fake.tree().filter((p) => p.includes(IQN) || p.includes('csivg'))).toEqual([]);
    expect(await lio.listTargets()).toEqual([]);
    fake.log.length = 0;
    await lio.removeTarget(IQN);
    expect(fake.log).toEqual([]);
  });

  it('removes a backstore left without its target (crash before the LUN link), found by its alias', async () => {
    const { fake, lio } = setup();
    await lio.ensureTarget(spec());
    await lio.ensureTarget(spec({ iqn: `${IQN}x`, volumeKey: 'csivg/vol-x', devicePath: '/dev/csivg/vol-x' }));
    await fake.unlink(fake.abs(`${TPG}/lun/lun_0/csivg-vol--a`));
    await fake.rmdir(fake.abs(`${TPG}/lun/lun_0`));
    await fake.rmdir(fake.abs(`${TPG}/np/127.0.0.1:3260`));
    await fake.rmdir(fake.abs(TPG));
    await fake.rmdir(fake.abs(`iscsi/${IQN}`));
    fake.log.length = 0;
    await lio.removeTarget(IQN);
    expect(fake.log).toEqual([`rmdir ${BS}`]);
    expect(fake.tree()).toContain('core/iblock_0/csivg-vol--x/');
  });

  it('does not remove a backstore another target still exports', async () => {
    const { fake, lio } = setup();
    await lio.ensureTarget(spec());
    const other = `${IQN}-copy`;
    await lio.ensureTarget(spec({ iqn: other }));
    await expect(lio.removeTarget(IQN)).rejects.toBeInstanceOf(Busy);
    expect(fake.tree()).toContain(`${BS}/`);
    await lio.removeTarget(other);
    await lio.removeTarget(IQN);
    expect(fake.tree().filter((p) => p.includes('csivg'))).toEqual([]);
  });
});

describe('LioTarget.listTargets and refreshSize', () => {
  it('reports the live state: device, serial, LUN, portals, initiators with CHAP user and sessions, size', async () => {
    const { fake, lio } = setup();
    expect(await lio.listTargets()).toEqual([]);
    await lio.ensureTarget(spec());
    await lio.allowInitiator(IQN, INIT, {
      userid: 'user1',
      password: PASSWORD,
      mutualUserid: 'tgt1',
      mutualPassword: MUTUAL,
    });
    await lio.allowInitiator(IQN, OTHER);
    fake.login(IQN, INIT);
    const states = await lio.listTargets();
    expect(states).toEqual([
      {
        iqn: IQN,
        devicePath: '/dev/csivg/vol-a',
        serial: SERIAL,
        lun: 0,
        portals: [{ address: '127.0.0.1', port: 3260 }],
        readOnly: false,
        authRequired: true,
        enabled: true,
        initiators: [
          { iqn: INIT, chapUserid: 'user1', mutualChapUserid: 'tgt1', sessions: 1 },
          { iqn: OTHER, chapUserid: undefined, mutualChapUserid: undefined, sessions: 0 },
        ].sort((a, b) => a.iqn.localeCompare(b.iqn)),
        sizeBytes: 65536 * 512,
      },
    ]);
    expect(JSON.stringify(states)).not.toContain(PASSWORD);
  });

  it('refreshSize: nothing to do for iblock; NotFound without the target', async () => {
    const { fake, lio } = setup();
    await expect(lio.refreshSize(IQN)).rejects.toBeInstanceOf(NotFound);
    await lio.ensureTarget(spec());
    fake.log.length = 0;
    await lio.refreshSize(IQN);
    expect(fake.log).toEqual([]);
  });
});

describe('LioTarget keeps CHAP secrets out of errors and logs', () => {
  it('a failing password write names the file, not the value; no log line carries a secret', async () => {
    const { fake, lio, lines } = setup();
    await lio.ensureTarget(spec());
    await lio.allowInitiator(IQN, INIT, {
      userid: 'user1',
      password: PASSWORD,
      mutualUserid: 'tgt1',
      mutualPassword: MUTUAL,
    });
    await lio.allowInitiator(IQN, INIT, {
      userid: 'user1',
      password: `${PASSWORD}-new`,
      mutualUserid: 'tgt1',
      mutualPassword: `${MUTUAL}-new`,
    });
    fake.inject('write', '/auth/password', 'EIO', 5);
    const err = await lio
      .allowInitiator(IQN, INIT, { userid: 'user1', password: `${PASSWORD}-3` })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    const text = `${String(err)} ${JSON.stringify(err)} ${(err as Error).stack ?? ''} ${inspect((err as Error).cause)}`;
    expect(text).toMatch(/auth\/password/);
    for (const secret of [PASSWORD, MUTUAL, `${PASSWORD}-new`, `${MUTUAL}-new`, `${PASSWORD}-3`]) {
      expect(text).not.toContain(secret);
      expect(lines.join('')).not.toContain(secret);
    }
    await lio.denyInitiator(IQN, INIT);
    await lio.removeTarget(IQN);
    expect(lines.length).toBeGreaterThan(3);
    for (const secret of [PASSWORD, MUTUAL]) expect(lines.join('')).not.toContain(secret);
  });
});

describe('LioTarget.removeOrphans', () => {
  const PREFIX = 'iqn.2024-01.org.example.csi-lvm-iscsi';
  /** A backstore made (and enabled) the way ensureTarget starts, then a crash before any target links it. */
  async function orphan(fake: FakeConfigfs, name: string, alias: string) {
    await fake.mkdir(fake.abs('core/iblock_0')).catch(() => undefined);
    await fake.mkdir(fake.abs(`core/iblock_0/${name}`));
    await fake.write(fake.abs(`core/iblock_0/${name}/control`), `udev_path=/dev/x/${name}`);
    await fake.write(fake.abs(`core/iblock_0/${name}/alias`), alias);
    await fake.write(fake.abs(`core/iblock_0/${name}/enable`), '1');
  }

  it('removes our backstores (alias under the prefix) that no LUN links; keeps foreign ones and linked ones', async () => {
    const { fake, lio } = setup();
    await lio.ensureTarget(spec());
    await orphan(fake, 'csivg-vol--lost', `${PREFIX}:csivg:vol-lost`);
    await orphan(fake, 'foreign-disk', 'iqn.2003-01.org.other:disk1');
    await orphan(fake, 'no-alias', '');
    fake.log.length = 0;
    expect(await lio.removeOrphans(PREFIX)).toEqual(['csivg-vol--lost']);
    expect(fake.log).toEqual(['rmdir core/iblock_0/csivg-vol--lost']);
    const tree = fake.tree();
    expect(tree).toContain(`${BS}/`);
    expect(tree).toContain('core/iblock_0/foreign-disk/');
    expect(tree).toContain('core/iblock_0/no-alias/');
    fake.log.length = 0;
    expect(await lio.removeOrphans(PREFIX)).toEqual([]);
    expect(fake.log).toEqual([]);
  });

  it('keeps a backstore of ours that a foreign target links, and one the kernel refuses to remove (EBUSY)', async () => {
    const { fake, lio } = setup();
    await lio.ensureTarget(spec({ iqn: 'iqn.2003-01.org.other:t1' }));
    await orphan(fake, 'csivg-vol--b', `${PREFIX}:csivg:vol-b`);
    fake.inject('rmdir', 'csivg-vol--b', 'EBUSY', 10);
    fake.log.length = 0;
    // ensureTarget wrote the foreign IQN as alias: give BS one under our prefix, so only the LUN link keeps it
    await fake.write(fake.abs(`${BS}/alias`), `${PREFIX}:csivg:vol-a`);
    expect(await lio.removeOrphans(PREFIX)).toEqual([]);
    expect(fake.tree()).toContain(`${BS}/`);
    expect(fake.tree()).toContain('core/iblock_0/csivg-vol--b/');
  });

  it('does nothing without configfs backstores', async () => {
    const { fake, lio } = setup();
    expect(await lio.removeOrphans(PREFIX)).toEqual([]);
    expect(fake.log).toEqual([]);
  });
});
