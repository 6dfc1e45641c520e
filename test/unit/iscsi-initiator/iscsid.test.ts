import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { iscsidListening, multipathdListening, socketListening } from '../../../src/iscsi-initiator/iscsid.js';

describe('iscsidListening', () => {
  const dir = mkdtempSync(join(tmpdir(), 'netunix-'));
  const header = 'Num       RefCount Protocol Flags    Type St Inode Path\n';

  it('finds the abstract socket iscsid listens on', async () => {
    const f = join(dir, 'yes');
    writeFileSync(
      f,
      `${header}0000000000000000: 00000002 00000000 00010000 0001 01 24075 @ISCSIADM_ABSTRACT_NAMESPACE\n`,
    );
    expect(await iscsidListening(f)).toBe(true);
  });

  it('is false without it, or without the file', async () => {
    const f = join(dir, 'no');
    writeFileSync(f, `${header}0000000000000000: 00000002 00000000 00010000 0001 01 1234 /run/systemd/notify\n`);
    expect(await iscsidListening(f)).toBe(false);
    expect(await iscsidListening(join(dir, 'missing'))).toBe(false);
  });
});

describe('multipathdListening / socketListening', () => {
  const dir = mkdtempSync(join(tmpdir(), 'netunix-'));
  const header = 'Num       RefCount Protocol Flags    Type St Inode Path\n';

  it('finds multipathd by its abstract socket, and only by the whole name', async () => {
    const f = join(dir, 'mp');
    writeFileSync(
      f,
      `${header}0000000000000000: 00000002 00000000 00010000 0001 01 31337 @/org/kernel/linux/storage/multipathd\n`,
    );
    expect(await multipathdListening(f)).toBe(true);
    expect(await iscsidListening(f)).toBe(false);
    expect(await socketListening('@/linux/storage/multipathd', f)).toBe(false);
  });
});
