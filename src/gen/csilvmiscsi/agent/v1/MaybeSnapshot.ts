// Original file: proto/agent.proto

import type { Snapshot as _csilvmiscsi_agent_v1_Snapshot, Snapshot__Output as _csilvmiscsi_agent_v1_Snapshot__Output } from '../../../csilvmiscsi/agent/v1/Snapshot.js';

export interface MaybeSnapshot {
  'snapshot'?: (_csilvmiscsi_agent_v1_Snapshot | null);
}

export interface MaybeSnapshot__Output {
  'snapshot': (_csilvmiscsi_agent_v1_Snapshot__Output | null);
}
