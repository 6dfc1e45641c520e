/**
 * A stopped storage agent does not stop CreateVolume on the others: two agent
 * processes (storage-a on VG downa, storage-b on VG downb, each with its own
 * IQN prefix so their reconciles leave each other's targets alone) and a
 * controller process over mutual TLS on the guest's loopback. With storage-a
 * stopped, CreateVolume lands on storage-b (a real thin LV), ListVolumes and
 * GetCapacity answer from storage-b, and storage-a's volume is UNAVAILABLE to
 * DeleteVolume, never deleted or reported gone.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeCerts, type CertDirs } from '../helpers/certs.js';
import {
  call,
  codeOf,
  destroyVg,
  disks,
  inGuest,
  makeVg,
  MiB,
  mountCap,
  sh,
  startPlugin,
  type PluginProcess,
} from './lib.js';
import { status as Code } from '@grpc/grpc-js';

describe.runIf(inGuest)('one of two storage agents stopped', () => {
  let certs: CertDirs;
  let a: PluginProcess;
  let b: PluginProcess;
  let controller: PluginProcess;
  const agent = (node: string, vg: string, port: number) =>
    startPlugin([
      '--node-id',
      node,
      '--mode',
      'agent',
      '--volume-group',
      vg,
      '--thin-pool',
      'pool',
      '--thin-pool-percent',
      '60',
      '--portals',
      '127.0.0.1:3260',
      '--agent-listen',
      `127.0.0.1:${port}`,
      '--agent-tls-dir',
      certs.agent,
      '--iqn-prefix',
      `iqn.2024-01.org.example.${vg}`,
    ]);

  beforeAll(async () => {
    makeVg('downa', disks.slice(0, 1));
    makeVg('downb', disks.slice(1, 2));
    certs = makeCerts();
    [a, b] = await Promise.all([agent('storage-a', 'downa', 9811), agent('storage-b', 'downb', 9812)]);
    controller = await startPlugin([
      '--mode',
      'controller',
      '--agents',
      'storage-a=127.0.0.1:9811,storage-b=127.0.0.1:9812',
      '--agent-tls-dir',
      certs.controller,
    ]);
  });

  afterAll(async () => {
    for (const p of [controller, a, b]) if (p) await p.stop();
    destroyVg('downa');
    destroyVg('downb');
  });

  it("CreateVolume goes to storage-b while storage-a is stopped; storage-a's volume is UNAVAILABLE, not gone", async () => {
    const create = (name: string, vg: string) =>
      call(controller.controller, 'CreateVolume', {
        name,
        capacity_range: { required_bytes: String(32 * MiB) },
        volume_capabilities: [mountCap()],
        parameters: { volumeGroup: vg },
      });
    const onA = (await create('down-a', 'downa')).volume?.volume_id ?? '';
    expect(onA).toMatch(/\/downa\//);
    expect(await a.stop()).toBe(0);

    const onB = (await create('down-b', 'downb')).volume?.volume_id ?? '';
    expect(onB).toMatch(/\/downb\//);
    expect(sh(['lvs', '--noheadings', '-o', 'lv_name', 'downb'])).toContain(onB.split('/')[2]);
    const listed = (await call(controller.controller, 'ListVolumes', {})).entries.map((e) => e.volume?.volume_id);
    expect(listed).toEqual([onB]);
    const cap = await call(controller.controller, 'GetCapacity', {
      volume_capabilities: [mountCap()],
      parameters: { volumeGroup: 'downb' },
    });
    expect(Number(cap.available_capacity)).toBeGreaterThan(0);
    expect(await codeOf(call(controller.controller, 'DeleteVolume', { volume_id: onA }))).toBe(Code.UNAVAILABLE);
    expect(sh(['lvs', '--noheadings', '-o', 'lv_name', 'downa'])).toContain(onA.split('/')[2]);
    expect(controller.log()).toMatch(/storage agent unreachable/);
    await call(controller.controller, 'DeleteVolume', { volume_id: onB });
  });
});
