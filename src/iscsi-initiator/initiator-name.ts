/** The host's initiator name, from open-iscsi's /etc/iscsi/initiatorname.iscsi ("InitiatorName=iqn..."). */
import { readFile } from 'node:fs/promises';

export async function readInitiatorName(path = '/etc/iscsi/initiatorname.iscsi'): Promise<string> {
  const text = await readFile(path, 'utf8').catch((e: NodeJS.ErrnoException) => {
    throw new Error(
      `cannot read the initiator name from ${path} (${e.code ?? e.message}); install open-iscsi or set --initiator-name`,
    );
  });
  const line = text.split('\n').find((l) => /^\s*InitiatorName\s*=/.test(l));
  const name = line?.split('=').slice(1).join('=').trim();
  if (!name) throw new Error(`${path} has no InitiatorName= line`);
  return name;
}
