/**
 * The iSCSI target on a storage node: one interface (types.ts), two
 * implementations (LIO through configfs, tgt through tgtadm), names (iqn.ts).
 */
import type { CommandRunner } from '../exec/runner.js';
import type { Logger } from '../log.js';
import { LioTarget, type LioOptions } from './lio.js';
import { TgtTarget, type TgtOptions } from './tgt.js';
import type { Target, TargetKind } from './types.js';

export type { Target } from './types.js';

export interface CreateTargetOptions {
  kind: TargetKind;
  runner: CommandRunner;
  logger?: Logger;
  lio?: Omit<LioOptions, 'logger'>;
  tgt?: Omit<TgtOptions, 'runner' | 'logger'>;
}

export function createTarget(o: CreateTargetOptions): Target {
  const logger = o.logger ? { logger: o.logger } : {};
  if (o.kind === 'tgt') return new TgtTarget({ ...o.tgt, runner: o.runner, ...logger });
  return new LioTarget({ ...o.lio, ...logger });
}
